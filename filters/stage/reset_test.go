package stage

import (
	"errors"
	"reflect"
	"testing"
	"unsafe"
)

// TestResetForgetsEveryField: Reset clears the stream field by field (a
// struct literal costs a call in wasm), so a field added to Stream, Edits,
// Input or Principal that Reset misses would carry one stream's state into
// the next. Every field is filled, then must be zero after Reset: slices
// kept for their capacity only empty, and Params and the spares as their
// own tests hold them.
func TestResetForgetsEveryField(t *testing.T) {
	var s Stream
	v := reflect.ValueOf(&s).Elem()
	own := map[string]bool{"Params": true, "kept": true, "spare": true}
	keepsCapacity := map[string]bool{"BodyReaders": true, "Outcomes": true}
	for i := 0; i < v.NumField(); i++ {
		if f := v.Type().Field(i); !own[f.Name] {
			fill(t, f.Name, settable(v.Field(i)))
		}
	}
	s.Reset()
	for i := 0; i < v.NumField(); i++ {
		f, fv := v.Type().Field(i), v.Field(i)
		switch {
		case own[f.Name]:
		case keepsCapacity[f.Name]:
			if fv.Len() != 0 {
				t.Errorf("Reset left %s with %d elements", f.Name, fv.Len())
			}
		default:
			if !fv.IsZero() {
				t.Errorf("Reset left %s = %+v", f.Name, fv)
			}
		}
	}
}

// settable makes an unexported field writable through reflection.
func settable(v reflect.Value) reflect.Value {
	return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
}

type fakeHeaders struct{}

func (fakeHeaders) All() ([][2]string, error) { return nil, nil }
func (fakeHeaders) Get(string) string         { return "" }

// fill gives v, and each field of a struct, a value other than zero.
func fill(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fill(t, path+"."+v.Type().Field(i).Name, settable(v.Field(i)))
		}
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
	case reflect.Interface:
		switch {
		case reflect.TypeFor[error]().Implements(v.Type()):
			v.Set(reflect.ValueOf(errors.New("x")))
		case reflect.TypeFor[fakeHeaders]().Implements(v.Type()):
			v.Set(reflect.ValueOf(fakeHeaders{}))
		default:
			t.Fatalf("%s: no value of %s to fill it with", path, v.Type())
		}
	default:
		t.Fatalf("%s: cannot fill a %s", path, v.Kind())
	}
}
