package canbus

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		addr string
		opts Options
		want error
	}{
		{"", Options{}, ErrBadAddress},
		{"can0", Options{}, ErrBadAddress},
		{"tcp:127.0.0.1:1", Options{}, ErrBadAddress},
		{"CAN:can0", Options{}, ErrBadAddress},
		{"can:", Options{}, ErrBadAddress},
		{"can:averyveryverylongname", Options{}, ErrBadAddress},
		{"can:a/b", Options{}, ErrBadAddress},
		{"mem:", Options{Hub: &MemHub{}}, ErrBadAddress},
		{"mem:bay1", Options{}, ErrNoHub},
		{"udp:", Options{}, ErrBadAddress},
		{"udp:239.64.142.206", Options{}, ErrBadAddress},
		{"udp:239.64.142.206:0", Options{}, ErrBadAddress},
		{"udp:239.64.142.206:70000", Options{}, ErrBadAddress},
		{"udp:127.0.0.1:20000", Options{}, ErrBadAddress},
		{"udp:10.1.2.3:20000", Options{}, ErrBadAddress},
		{"udp:[ff02::1]:20000", Options{}, ErrBadAddress},
		{"udp:localhost:20000", Options{}, ErrBadAddress},
		{"replay:", Options{}, ErrBadAddress},
		{"replay:/nonexistent/trace.log", Options{}, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			c, err := Open(t.Context(), tt.addr, tt.opts)
			if c != nil {
				c.Close()
				t.Fatal("Open returned a Conn with an error")
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.addr != "" && !strings.Contains(err.Error(), tt.addr) {
				t.Fatalf("error %q does not name the address", err)
			}
		})
	}
}

func TestOpenCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Open(ctx, "mem:bay1", Options{Hub: &MemHub{}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestOpenMemIsMemConn(t *testing.T) {
	c, err := Open(t.Context(), "mem:bay1", Options{Hub: &MemHub{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(interface{ Overruns() int64 }); !ok {
		t.Fatal("mem: Conn has no Overruns method")
	}
}
