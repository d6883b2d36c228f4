package host

// SendLocalReply answers the stream on Envoy's behalf, as its own components
// do (the router when the upstream is unreachable, the codec when the request
// body is malformed, the stream timeouts): like the plugin's local reply, it
// passes through the plugin's response callbacks, so the response policies a
// plugin applies see it too. It returns the headers and body the client
// receives. Call it only while no response has started.
func (s *Stream) SendLocalReply(r LocalReply) (Headers, []byte, error) {
	s.vm.mu.Lock()
	s.reply, s.replySent = &r, false
	s.vm.mu.Unlock()
	return s.EncodeLocalReply()
}
