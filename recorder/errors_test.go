package recorder

import (
	"errors"
	"testing"
)

func TestLostErrorMessage(t *testing.T) {
	cause := errors.New("disk full")
	tests := []struct {
		name string
		err  *LostError
		want string
	}{
		{
			name: "one event one attempt",
			err:  &LostError{Events: 1, Attempts: 1, Err: cause},
			want: "recorder: 1 event lost after 1 attempt: disk full",
		},
		{
			name: "many events and attempts",
			err:  &LostError{Events: 512, Attempts: 4, Err: cause},
			want: "recorder: 512 events lost after 4 attempts: disk full",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if !errors.Is(tt.err, cause) {
				t.Errorf("errors.Is(%v, cause) = false, want true", tt.err)
			}
		})
	}
}
