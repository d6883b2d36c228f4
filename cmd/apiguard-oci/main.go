// Command apiguard-oci writes plugin.wasm as an OCI image layout that Istio's
// WasmPlugin pulls once pushed to a registry (`make oci`; README, "Loading it
// into Envoy and Istio"). The image is the Wasm image specification's
// "compat" variant, the one Istio tries first: one
// application/vnd.oci.image.layer.v1.tar+gzip layer holding plugin.wasm, and
// the manifest annotation module.wasm.image/variant=compat. It is built
// without a container engine and is reproducible: the same module gives the
// same manifest digest, the value to pin in the WasmPlugin's sha256.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// moduleName is the file the compat variant's layer must hold.
const moduleName = "plugin.wasm"

func main() {
	out := flag.String("o", "build/oci", "OCI image layout directory to (re)write")
	tag := flag.String("tag", "latest", "the image's reference name in the layout (org.opencontainers.image.ref.name)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: apiguard-oci [-o DIR] [-tag TAG] build/plugin.wasm\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	module, err := os.ReadFile(flag.Arg(0))
	if err == nil {
		var digest v1.Hash
		if digest, err = write(module, *out, *tag); err == nil {
			fmt.Printf("%s: %s:%s, manifest %s (the WasmPlugin's sha256 is its hex part)\n", *out, "apiguard", *tag, digest)
			return
		}
	}
	fmt.Fprintln(os.Stderr, "apiguard-oci:", err)
	os.Exit(1)
}

// image packs module as a compat-variant Wasm image.
func image(module []byte) (v1.Image, error) {
	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	// Fixed metadata, so the digest depends on the module alone.
	hdr := &tar.Header{Name: moduleName, Mode: 0o444, Size: int64(len(module)), ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(module); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(archive.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	if img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer}); err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "wasip1", "wasm"
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return nil, err
	}
	return mutate.Annotations(img, map[string]string{"module.wasm.image/variant": "compat"}).(v1.Image), nil
}

// write replaces dir with an OCI image layout holding module's image, and
// returns the image's manifest digest. A dir that exists and is not an OCI
// image layout is left alone.
func write(module []byte, dir, tag string) (v1.Hash, error) {
	img, err := image(module)
	if err != nil {
		return v1.Hash{}, err
	}
	if _, err := os.Stat(dir); err == nil {
		if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
			return v1.Hash{}, fmt.Errorf("%s exists and is not an OCI image layout; not replacing it", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return v1.Hash{}, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return v1.Hash{}, err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		return v1.Hash{}, err
	}
	return img.Digest()
}
