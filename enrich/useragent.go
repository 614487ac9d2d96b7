package enrich

import (
	"hash/maphash"
	"strings"
	"sync"

	"github.com/medama-io/go-useragent"
)

// FamilyOther is the family of a non-empty user agent that names no product
// in a form UserAgent recognises.
const FamilyOther = "Other"

// apiClients maps the product names of common HTTP clients and tools to
// their family. Browser parsers miss these or class them as bots without a
// name. A name matches case-insensitively.
var apiClients = []struct {
	family   string
	products []string
}{
	{"curl", []string{"curl"}},
	{"Wget", []string{"Wget"}},
	{"python-requests", []string{"python-requests"}},
	{"aiohttp", []string{"aiohttp"}},
	{"python-httpx", []string{"python-httpx"}},
	{"Python-urllib", []string{"Python-urllib"}},
	{"Go-http-client", []string{"Go-http-client"}},
	{"okhttp", []string{"okhttp"}},
	{"axios", []string{"axios"}},
	{"node-fetch", []string{"node-fetch"}},
	{"Java", []string{"Java", "Java-http-client"}}, // HttpURLConnection, java.net.http.HttpClient
	{"Apache-HttpClient", []string{"Apache-HttpClient"}},
	{"PostmanRuntime", []string{"PostmanRuntime"}},
	{"kubectl", []string{"kubectl", "kubectl.exe"}},
	{"client-go", []string{"client-go"}},
	{"HeadlessChrome", []string{"HeadlessChrome"}}, // browser automation, which browser parsers report as Chrome
}

// chromiumBrowsers maps the product names that browsers built on Chromium
// add next to Chrome/ to their family, named as the browser parser names
// them when the user agent carries "(KHTML, like Gecko)". A user agent
// with a Chrome/ product and none of these is Chrome.
var chromiumBrowsers = []struct {
	family   string
	products []string
}{
	{"Edge", []string{"Edg", "EdgA", "EdgiOS", "Edge"}},
	{"Opera", []string{"OPR", "OPT", "Opera"}},
	{"Samsung Browser", []string{"SamsungBrowser"}},
	{"Yandex Browser", []string{"YaBrowser"}},
	{"Vivaldi", []string{"Vivaldi"}},
	{"UC Browser", []string{"UCBrowser"}},
	{"Electron", []string{"Electron"}},
}

// maxCachedUserAgent bounds the length of a user agent that the cache keeps,
// so that a client sending huge user agents cannot fill memory through it.
const maxCachedUserAgent = 512

// uaParser finds the family and major version of user agents.
type uaParser struct {
	browsers *useragent.Parser
	cache    *uaCache // nil when caching is off
}

func newUAParser(cacheSize int) *uaParser {
	p := &uaParser{browsers: useragent.NewParser()}
	if cacheSize > 0 {
		p.cache = newUACache(cacheSize)
	}
	return p
}

func (p *uaParser) parse(ua string) (family, major string) {
	ua = strings.TrimSpace(ua)
	if ua == "" {
		return "", ""
	}
	cacheable := p.cache != nil && len(ua) <= maxCachedUserAgent
	if cacheable {
		if r, ok := p.cache.get(ua); ok {
			return r.family, r.major
		}
	}

	family, major = p.classify(ua)
	if cacheable {
		p.cache.put(ua, uaResult{family, major})
	}
	return family, major
}

// classify returns the family and major version of ua. It tries these in
// turn and takes the first that matches:
//   - the apiClients table, over every product token;
//   - the Kubernetes client-go form "name/v1.2.3 (os/arch) kubernetes/commit";
//   - a Chrome/ or CriOS/ product (see chromium);
//   - the browser parser;
//   - a "compatible; Name/1.2" comment, the form of most crawlers;
//   - the first product token other than Mozilla.
func (p *uaParser) classify(ua string) (family, major string) {
	var first, kubernetes string
	var firstVersion string
	var chrome chromium
	for name, version := range products(ua) {
		for _, c := range apiClients {
			for _, product := range c.products {
				if strings.EqualFold(name, product) {
					return c.family, majorVersion(version)
				}
			}
		}
		chrome.add(name, version)
		if first == "" {
			first, firstVersion = name, version
		} else if name == "kubernetes" {
			kubernetes = version
		}
	}

	if kubernetes != "" && strings.HasPrefix(firstVersion, "v") {
		major := majorVersion(firstVersion)
		if firstVersion == "v0.0.0" {
			major = "" // client-go built without a version stamp
		}
		return strings.TrimSuffix(first, ".exe"), major
	}

	if family, major, ok := chrome.family(); ok {
		return family, major
	}

	if agent := p.browsers.Parse(ua); agent.Browser() != "" {
		return string(agent.Browser()), majorVersion(agent.BrowserVersion())
	}

	if name, version, ok := compatibleProduct(ua); ok {
		return name, majorVersion(version)
	}
	if first != "" && first != "Mozilla" {
		return first, majorVersion(firstVersion)
	}
	return FamilyOther, ""
}

// chromium collects the product tokens that tell Chrome from the browsers
// built on Chromium. The browser parser (go-useragent v1.2.5) needs
// "(KHTML, like Gecko)" to see Chrome, and calls "AppleWebKit/537.36
// Chrome/120.0 Safari/537.36" Safari, so these tokens are read before it.
type chromium struct {
	seen      bool   // whether Chrome/ or CriOS/ is present
	chrome    string // the version of the first of them
	fork      string // the family of the first chromiumBrowsers product, or ""
	forkMajor string
}

func (c *chromium) add(name, version string) {
	switch name {
	case "Chrome", "CriOS":
		if !c.seen {
			c.seen, c.chrome = true, version
		}
		return
	}
	if c.fork != "" {
		return
	}
	for _, b := range chromiumBrowsers {
		for _, product := range b.products {
			if name == product {
				c.fork, c.forkMajor = b.family, majorVersion(version)
				return
			}
		}
	}
}

// family returns the family of a user agent with a Chrome/ or CriOS/
// product: the Chromium browser it names, or Chrome. Android's WebView is
// Chrome too, as the browser parser has it. It returns false without such
// a product.
func (c *chromium) family() (family, major string, ok bool) {
	switch {
	case !c.seen:
		return "", "", false
	case c.fork != "":
		return c.fork, c.forkMajor, true
	}
	return "Chrome", majorVersion(c.chrome), true
}

// products yields each "name/version" token of ua outside parenthesised
// comments, where name is a valid product name of at most 64 bytes.
func products(ua string) func(yield func(name, version string) bool) {
	return func(yield func(name, version string) bool) {
		depth := 0
		for len(ua) > 0 {
			i := strings.IndexAny(ua, " ()")
			token := ua
			if i >= 0 {
				token = ua[:i]
			}
			if depth == 0 {
				if name, version, ok := strings.Cut(token, "/"); ok && isProductName(name) {
					if !yield(name, version) {
						return
					}
				}
			}
			if i < 0 {
				return
			}
			switch ua[i] {
			case '(':
				depth++
			case ')':
				depth = max(depth-1, 0)
			}
			ua = ua[i+1:]
		}
	}
}

// compatibleProduct returns the product of a "(compatible; Name/1.2; ...)"
// comment.
func compatibleProduct(ua string) (name, version string, ok bool) {
	_, rest, found := strings.Cut(ua, "(compatible;")
	if !found {
		return "", "", false
	}
	rest = strings.TrimLeft(rest, " ")
	if i := strings.IndexAny(rest, ";) "); i >= 0 {
		rest = rest[:i]
	}
	name, version, found = strings.Cut(rest, "/")
	if !found || !isProductName(name) {
		return "", "", false
	}
	return name, version, true
}

// isProductName reports whether s is a non-empty HTTP token (RFC 9110) of at
// most 64 bytes.
func isProductName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// majorVersion returns the leading digits of version, after an optional "v":
// "131.0.6778.85" gives "131", "v1.32.2" gives "1". It returns "" when
// version starts with no digit.
func majorVersion(version string) string {
	version = strings.TrimPrefix(version, "v")
	n := 0
	for n < len(version) && n < 10 && version[n] >= '0' && version[n] <= '9' {
		n++
	}
	return version[:n]
}

// uaResult is a cached result of classify.
type uaResult struct{ family, major string }

// uaCacheShards spreads the cache over several locks, so that concurrent
// callers rarely wait on one another.
const uaCacheShards = 16

// uaCache is a bounded map from user agent to result. Each shard keeps two
// generations: when the current one is full it becomes the old one, and the
// old one is dropped. An entry read from the old generation moves back to the
// current one, so that the user agents in use stay cached.
type uaCache struct {
	seed     maphash.Seed
	perShard int // maximum entries of one generation of one shard
	shards   [uaCacheShards]uaShard
}

// uaShard is one part of a uaCache, with its own lock.
type uaShard struct {
	sync.Mutex
	current, old map[string]uaResult
}

// newUACache returns a cache that holds at most about size entries.
func newUACache(size int) *uaCache {
	c := &uaCache{seed: maphash.MakeSeed(), perShard: max(size/(2*uaCacheShards), 1)}
	for i := range c.shards {
		c.shards[i].current = make(map[string]uaResult)
	}
	return c
}

func (c *uaCache) get(ua string) (uaResult, bool) {
	s := &c.shards[maphash.String(c.seed, ua)%uaCacheShards]
	s.Lock()
	defer s.Unlock()

	if r, ok := s.current[ua]; ok {
		return r, true
	}
	r, ok := s.old[ua]
	if ok {
		c.putLocked(s, strings.Clone(ua), r)
	}
	return r, ok
}

func (c *uaCache) put(ua string, r uaResult) {
	s := &c.shards[maphash.String(c.seed, ua)%uaCacheShards]
	s.Lock()
	defer s.Unlock()

	c.putLocked(s, strings.Clone(ua), r)
}

// putLocked stores r under ua in the current generation of s, whose lock
// the caller holds. ua must not share memory with a caller's larger string.
func (c *uaCache) putLocked(s *uaShard, ua string, r uaResult) {
	if len(s.current) >= c.perShard {
		s.old = s.current
		s.current = make(map[string]uaResult, c.perShard)
	}
	s.current[ua] = r
}
