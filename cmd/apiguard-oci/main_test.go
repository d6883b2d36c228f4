package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestImageRoundTripsAsIstioPullsIt writes build/plugin.wasm as `make oci`
// does, reads the layout back, and unpacks it the way Istio's image fetcher
// unpacks a compat-variant image (pkg/wasm/imagefetcher.go,
// extractOCIStandardImage): exactly one application/vnd.oci.image.layer.v1.tar+gzip
// layer, gunzipped, untarred, the file named plugin.wasm. The module that
// comes out must be byte for byte the one that went in.
func TestImageRoundTripsAsIstioPullsIt(t *testing.T) {
	module, err := os.ReadFile("../../build/plugin.wasm")
	if err != nil {
		t.Fatalf("%v: run `make build` first", err)
	}
	want := sha256.Sum256(module)
	dir := filepath.Join(t.TempDir(), "oci")
	digest, err := write(module, dir, "v1")
	if err != nil {
		t.Fatal(err)
	}

	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != digest || im.Manifests[0].MediaType != types.OCIManifestSchema1 ||
		im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v1" {
		t.Fatalf("index %+v, want one OCI manifest %s named v1", im.Manifests, digest)
	}
	img, err := idx.Image(digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Annotations["module.wasm.image/variant"] != "compat" || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("manifest %+v: want the compat annotation and an OCI config", m)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type %s, want %s", mt, types.OCILayer)
	}

	// The blob on disk is what a registry serves: its sha256 must be the
	// manifest's layer digest, or a pull fails verification.
	blob, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", m.Layers[0].Digest.Hex))
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256.Sum256(blob); hex.EncodeToString(got[:]) != m.Layers[0].Digest.Hex || int64(len(blob)) != m.Layers[0].Size {
		t.Errorf("layer blob: sha256 %x and %d bytes, manifest says %s and %d", got, len(blob), m.Layers[0].Digest, m.Layers[0].Size)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := sha256.Sum256(extract(t, rc))
	if got != want {
		t.Errorf("plugin.wasm in the image has sha256 %x, the module %x", got, want)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if diffID, _ := layers[0].DiffID(); len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != diffID {
		t.Errorf("config diff_ids %v, want the layer's %s", cfg.RootFS.DiffIDs, diffID)
	}

	// Reproducible: the same module gives the same manifest digest, so the
	// sha256 pinned in a WasmPlugin can be checked against a rebuild.
	again, err := write(module, dir, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if again != digest {
		t.Errorf("rewriting the same module gave manifest %s, then %s", digest, again)
	}
}

// extract is Istio's extractWasmPluginBinary: the first file named
// plugin.wasm in a tar.gz.
func extract(t *testing.T, r io.Reader) []byte {
	t.Helper()
	gr, err := gzip.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no plugin.wasm in the layer: %v", err)
		}
		if filepath.Base(h.Name) == moduleName {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func TestWriteLeavesOtherDirectoriesAlone(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := write([]byte("\x00asm\x01\x00\x00\x00"), dir, "latest"); err == nil {
		t.Error("write replaced a directory that is not an OCI image layout")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the directory's file is gone: %v", err)
	}
}
