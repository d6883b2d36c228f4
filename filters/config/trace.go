package config

import "github.com/tidwall/gjson"

// trace, set only by this package's tests, sees every object read and every
// map and array walked, so that the configuration reference (CONFIG.md) is
// checked against what the parser knows rather than against a copy of it.
// Reading runs once, at start; unset, it costs a nil check per object.
var trace interface {
	object(path string, fields Fields)
	keys(path string, v gjson.Result)
	elements(path string, v gjson.Result)
}
