package natsjs

import "testing"

func TestIsPowerOf10(t *testing.T) {
	tests := []struct {
		n    int
		want bool
	}{{0, false}, {1, true}, {2, false}, {10, true}, {11, false}, {20, false}, {100, true}, {1000, true}, {1010, false}}
	for _, tt := range tests {
		if got := isPowerOf10(tt.n); got != tt.want {
			t.Errorf("isPowerOf10(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}
