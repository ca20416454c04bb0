// Package reflectfill sets every field of a value to a non-zero value.
//
// It is for tests that must see every field of a struct go through a
// mapping.
//
// Numbers become 7, strings "x", booleans true, times 2026-11-29T05:00:00Z,
// pointers point at a filled value, slices and maps hold one filled
// element, a json.RawMessage is {"x":7}. Interfaces are left nil.
package reflectfill

import (
	"encoding/json"
	"reflect"
	"time"
)

// Time is the time every time.Time field gets.
var Time = time.Date(2026, 11, 29, 5, 0, 0, 0, time.UTC)

// Fill fills the value ptr points at.
func Fill(ptr any) { fill(reflect.ValueOf(ptr).Elem(), 0) }

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

func fill(v reflect.Value, depth int) {
	if depth > 8 {
		return
	}
	switch v.Type() {
	case timeType:
		v.Set(reflect.ValueOf(Time))
		return
	case rawType:
		v.Set(reflect.ValueOf(json.RawMessage(`{"x":7}`)))
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(7.5)
	case reflect.String:
		v.SetString("x")
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), depth+1)
		}
	}
}
