package enrich

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tokentrail/tokentrail/internal/yamlcheck"
)

// Config names the files an Enricher loads. The zero Config is valid. It
// loads no file, so Enrich and Lists find nothing, but UserAgent works.
type Config struct {
	// CityDB is the path of a MaxMind-format city database, such as
	// GeoLite2-City.mmdb or DB-IP's dbip-city-lite.mmdb. It gives the
	// country, city, coordinates and accuracy radius. Empty means no
	// location lookups.
	CityDB string `yaml:"city_db"`

	// ASNDB is the path of a MaxMind-format ASN database, such as
	// GeoLite2-ASN.mmdb or DB-IP's dbip-asn-lite.mmdb. It gives the ASN and
	// the network's owner. Empty means no ASN lookups, unless CityDB holds
	// ASNs too, as GeoIP2 Enterprise does.
	ASNDB string `yaml:"asn_db"`

	// Lists are the threat-intel lists that Lists looks addresses up in.
	Lists []ListConfig `yaml:"lists"`

	// ReloadInterval is how often each file's size, modification time and
	// identity are checked, and the file loaded again when one changed.
	// Default 1 minute; negative means never.
	ReloadInterval time.Duration `yaml:"reload_interval"`

	// VerifyDatabases makes each database load walk the whole search tree
	// and data section and reject a damaged file before use. That is a pass
	// over every record, so it is off by default. Without it, a damaged
	// record fails only the lookups that reach it, and each such failure is
	// counted in SourceStatus.LookupErrors.
	VerifyDatabases bool `yaml:"verify_databases"`

	// UserAgentCacheSize is the maximum number of user agents whose family
	// and version are kept, so that a repeated user agent is parsed once.
	// Default 10000; negative means no cache. User agents longer than 512
	// bytes are never cached.
	UserAgentCacheSize int `yaml:"user_agent_cache_size"`

	// GeoCacheSize is the number of addresses' networks whose results from
	// the city and ASN databases are kept, rounded up to a power of two, so
	// that a repeated address or another address of the same network skips
	// the search. An entry takes about 210 bytes, 13.6 MB at the default of
	// 65536. Negative means no cache. A result of a file is not used once
	// the file was reloaded.
	GeoCacheSize int `yaml:"geo_cache_size"`

	// Logger receives reloads, load failures, skipped list lines and the
	// first lookup error of each loaded database; default slog.Default().
	Logger *slog.Logger `yaml:"-"`
}

// ListConfig names one threat-intel list file.
type ListConfig struct {
	// Name is the label that Lists returns for an address in this list, such
	// as "tor-exit" or "spamhaus-drop". It is required and must be unique
	// within a Config.
	Name string `yaml:"name"`

	// Path is the list file: one IPv4 or IPv6 address or CIDR per line, with
	// '#' or ';' comments and blank lines, or a Tor exit-addresses file.
	Path string `yaml:"path"`
}

// Defaults that New applies to zero fields of Config.
const (
	DefaultReloadInterval     = time.Minute
	DefaultUserAgentCacheSize = 10000
	DefaultGeoCacheSize       = 1 << 16
)

// withDefaults returns c with every zero field replaced by its default.
func (c Config) withDefaults() Config {
	if c.ReloadInterval == 0 {
		c.ReloadInterval = DefaultReloadInterval
	}
	if c.UserAgentCacheSize == 0 {
		c.UserAgentCacheSize = DefaultUserAgentCacheSize
	}
	if c.GeoCacheSize == 0 {
		c.GeoCacheSize = DefaultGeoCacheSize
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// validate reports the first list entry without a name or path, or with a
// name used before.
func (c Config) validate() error {
	if err := c.checkLists(); err != nil {
		return fmt.Errorf("enrich: %s", err.Reason)
	}
	return nil
}

// checkLists returns the first list entry without a name or path, or with
// a name used before, as a *yamlcheck.Error without a line.
func (c Config) checkLists() *yamlcheck.Error {
	seen := make(map[string]bool, len(c.Lists))
	for i, l := range c.Lists {
		field := fmt.Sprintf("lists[%d]", i)
		switch {
		case l.Name == "":
			return &yamlcheck.Error{Field: field + ".name", Reason: fmt.Sprintf("list %d (path %q) has no name", i+1, l.Path)}
		case l.Path == "":
			return &yamlcheck.Error{Field: field + ".path", Reason: fmt.Sprintf("list %q has no path", l.Name)}
		case seen[l.Name]:
			return &yamlcheck.Error{Field: field + ".name", Reason: fmt.Sprintf("list name %q is used twice; give each list its own name", l.Name)}
		}
		seen[l.Name] = true
	}
	return nil
}

// ParseConfig reads a Config from YAML, in the form shown in the package
// documentation. Durations are Go duration strings such as "30s" or "5m". A
// key that Config does not have is an error, so that a misspelt key is not
// silently ignored. A fault of the YAML, such as an unknown key or a value
// of the wrong type, is returned as a *yamlcheck.Error with its line, field
// and the form to write, and so is a list without a name or path. The
// Logger is left nil.
func ParseConfig(data []byte) (Config, error) {
	lines, err := yamlcheck.Check(data, reflect.TypeFor[Config](), nil)
	if err != nil {
		return Config{}, fmt.Errorf("enrich: parse config: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("enrich: parse config: %w", err)
	}

	// A list entry's line is the line of its first key.
	if fault := c.checkLists(); fault != nil {
		entry, _, _ := strings.Cut(fault.Field, ".")
		fault.Line = lines[entry]
		return Config{}, fmt.Errorf("enrich: parse config: %w", fault)
	}
	return c, nil
}

// ReadConfigFile reads the YAML config at path with ParseConfig, and
// resolves the relative paths of its databases and lists against the
// folder of path, so that the file names the same files from any working
// directory. Absolute paths are kept.
func ReadConfigFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("enrich: read config: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, err
	}

	dir := filepath.Dir(path)
	resolve := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	resolve(&c.CityDB)
	resolve(&c.ASNDB)
	for i := range c.Lists {
		resolve(&c.Lists[i].Path)
	}
	return c, nil
}
