package yamlcheck

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

type base struct {
	Disabled bool `yaml:"disabled"`
}

type inner struct {
	base   `yaml:",inline"`
	Window time.Duration `yaml:"window"`
}

type config struct {
	Name    string   `yaml:"name"`
	Inner   *inner   `yaml:"inner"`
	Items   []inner  `yaml:"items"`
	Skipped func()   `yaml:"-"`
	Tags    []string `yaml:"tags"`
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"valid", "name: a\ninner:\n  disabled: true\n  window: 5m\nitems:\n  - window: 1s\ntags: [x, y]\n", ""},
		{"empty file", "", ""},
		{"null value keeps the default", "inner:\nname: ~\n", ""},
		{"alias", "a: &w 5m\n", "line 1: a: unknown key; the keys here are inner, items, name, tags"},
		{"inline key through a pointer", "inner:\n  disabld: true\n", "line 2: inner.disabld: unknown key (did you mean disabled?); the keys here are disabled, window"},
		{"field left out of YAML", "skipped: 1\n", "line 1: skipped: unknown key"},
		{"list item", "items:\n  - window: 1s\n  - window: 2\n", "line 3: items[1].window: 2 has no unit; write 2s for seconds"},
		{"mapping as value", "name:\n  a: b\n", "line 2: name: want one value (write text, quoted if it starts with a special character), not a mapping of keys"},
		{"document not a mapping", "- a\n", "line 1: the document: want a mapping of keys"},
		{"syntax", "name: [\n", "line 1: invalid YAML:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Check([]byte(tt.yaml), reflect.TypeFor[config](), nil)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check(%q) = %v, want no error", tt.yaml, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Check(%q) = %v, want an error containing %q", tt.yaml, err, tt.want)
			}
		})
	}
}

func TestCheckLines(t *testing.T) {
	lines, err := Check([]byte("name: a\nitems:\n  - window: 1s\n  - disabled: true\n"), reflect.TypeFor[config](), nil)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"name": 1, "items": 2, "items[0]": 3, "items[1].disabled": 4} {
		if got := lines[path]; got != want {
			t.Errorf("lines[%q] = %d, want %d", path, got, want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "abc", 0},
		{"rapid_ip_chnage", "rapid_ip_change", 2},
		{"max_network", "max_networks", 1},
		{"", "abc", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
