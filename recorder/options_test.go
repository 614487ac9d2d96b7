package recorder

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestOptionsDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Options
		want Options
	}{
		{
			name: "zero value",
			want: Options{
				QueueSize: DefaultQueueSize, BatchSize: DefaultBatchSize, FlushInterval: DefaultFlushInterval,
				BlockTimeout: DefaultBlockTimeout, WriteTimeout: DefaultWriteTimeout,
				Retries: DefaultRetries, RetryBackoff: DefaultRetryBackoff,
			},
		},
		{
			name: "explicit values kept",
			in: Options{
				QueueSize: 10, BatchSize: 5, FlushInterval: time.Minute, Overflow: Block,
				BlockTimeout: time.Second, WriteTimeout: time.Minute, Retries: 7, RetryBackoff: time.Second,
			},
			want: Options{
				QueueSize: 10, BatchSize: 5, FlushInterval: time.Minute, Overflow: Block,
				BlockTimeout: time.Second, WriteTimeout: time.Minute, Retries: 7, RetryBackoff: time.Second,
			},
		},
		{
			name: "negative retries mean none",
			in:   Options{Retries: -1},
			want: Options{
				QueueSize: DefaultQueueSize, BatchSize: DefaultBatchSize, FlushInterval: DefaultFlushInterval,
				BlockTimeout: DefaultBlockTimeout, WriteTimeout: DefaultWriteTimeout,
				Retries: 0, RetryBackoff: DefaultRetryBackoff,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.withDefaults()

			if got.Logger == nil {
				t.Error("withDefaults().Logger = nil, want a logger")
			}
			if got.Clock == nil {
				t.Error("withDefaults().Clock = nil, want a clock")
			}
			got.Logger, got.Clock = nil, nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("withDefaults() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestOverflowText(t *testing.T) {
	tests := []struct {
		name string
		text string
		want Overflow
	}{
		{name: "drop newest", text: "drop_newest", want: DropNewest},
		{name: "block", text: "block", want: Block},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Overflow
			if err := got.UnmarshalText([]byte(tt.text)); err != nil {
				t.Fatalf("UnmarshalText(%q) = %v, want nil", tt.text, err)
			}
			if got != tt.want {
				t.Errorf("UnmarshalText(%q) = %v, want %v", tt.text, got, tt.want)
			}

			out, err := tt.want.MarshalText()
			if err != nil {
				t.Fatalf("MarshalText(%v) = %v, want nil", tt.want, err)
			}
			if string(out) != tt.text {
				t.Errorf("MarshalText(%v) = %q, want %q", tt.want, out, tt.text)
			}
		})
	}
}

func TestOverflowTextInvalid(t *testing.T) {
	var o Overflow
	err := o.UnmarshalText([]byte("drop_oldest"))
	if !errors.Is(err, ErrInvalidOption) {
		t.Errorf("UnmarshalText(drop_oldest) = %v, want ErrInvalidOption", err)
	}

	if _, err := Overflow(9).MarshalText(); err == nil {
		t.Error("MarshalText(overflow(9)) = nil error, want an error")
	}
	if got := Overflow(9).String(); got != "overflow(9)" {
		t.Errorf("Overflow(9).String() = %q, want overflow(9)", got)
	}
}
