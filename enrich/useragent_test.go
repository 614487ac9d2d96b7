package enrich

import (
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestUserAgent(t *testing.T) {
	tests := []struct {
		name, ua, family, major string
	}{
		{"Chrome", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome", "131"},
		{"Firefox", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox", "133"},
		{"Safari iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1", "Safari", "17"},
		{"Edge", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86", "Edge", "131"},
		{"headless Chrome", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36", "HeadlessChrome", "120"},
		{"curl", "curl/8.5.0", "curl", "8"},
		{"Wget", "Wget/1.21.4", "Wget", "1"},
		{"python-requests", "python-requests/2.32.5", "python-requests", "2"},
		{"aiohttp after Python", "Python/3.11 aiohttp/3.9.1", "aiohttp", "3"},
		{"Go-http-client", "Go-http-client/2.0", "Go-http-client", "2"},
		{"okhttp", "okhttp/4.12.0", "okhttp", "4"},
		{"axios", "axios/1.6.2", "axios", "1"},
		{"node-fetch", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "node-fetch", "1"},
		{"Java HttpURLConnection", "Java/17.0.2", "Java", "17"},
		{"Java HttpClient", "Java-http-client/21.0.1", "Java", "21"},
		{"kubectl", "kubectl/v1.32.5 (linux/amd64) kubernetes/9894294", "kubectl", "1"},
		{"kubectl on Windows", "kubectl.exe/v1.32.2 (windows/amd64) kubernetes/67a30c0", "kubectl", "1"},
		{"client-go component", "kube-controller-manager/v1.32.0 (linux/amd64) kubernetes/70d3cc9/shared-informers", "kube-controller-manager", "1"},
		{"client-go without version", "storage-provisioner/v0.0.0 (linux/amd64) kubernetes/$Format", "storage-provisioner", ""},
		{"client-go literal", "client-go/v0.29.0", "client-go", "0"},
		{"crawler", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", "2"},
		{"unknown product", "MruService/16.0.18604.40126", "MruService", "16"},
		{"product name with a space", "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.14326; Pro)", "Office", "16"},
		{"no product", "aaa", "Other", ""},
		{"bare Mozilla", "Mozilla/5.0", "Other", ""},
		{"empty", "", "", ""},
		{"blank", "   ", "", ""},
		{"upper-case curl", "CURL/7.1", "curl", "7"},
	}
	en, _ := newEnricher(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second call is served from the cache
				family, major := en.UserAgent(tt.ua)
				if family != tt.family || major != tt.major {
					t.Errorf("UserAgent(%q) = %q, %q, want %q, %q", tt.ua, family, major, tt.family, tt.major)
				}
			}
		})
	}
}

func TestUserAgentNoCache(t *testing.T) {
	en, _ := newEnricher(t, Config{UserAgentCacheSize: -1})
	if en.ua.cache != nil {
		t.Fatal("UserAgentCacheSize -1 left a cache")
	}
	if family, major := en.UserAgent("curl/8.5.0"); family != "curl" || major != "8" {
		t.Errorf("UserAgent(curl/8.5.0) = %q, %q, want curl, 8", family, major)
	}
}

func TestUserAgentCacheBounded(t *testing.T) {
	const size = 64
	c := newUACache(size)
	for i := range 10 * size {
		c.put("client/"+strconv.Itoa(i), uaResult{"client", strconv.Itoa(i)})
	}
	total := 0
	for i := range c.shards {
		total += len(c.shards[i].current) + len(c.shards[i].old)
	}
	if total > size {
		t.Errorf("cache holds %d entries after %d puts, want at most %d", total, 10*size, size)
	}
	if r, ok := c.get("client/" + strconv.Itoa(10*size-1)); !ok || r.major != strconv.Itoa(10*size-1) {
		t.Errorf("cache lost the newest entry: got %+v, %v", r, ok)
	}
}

func TestUserAgentLongNotCached(t *testing.T) {
	en, _ := newEnricher(t, Config{})
	long := "curl/8.5.0 " + strings.Repeat("x", 2*maxCachedUserAgent)
	if family, _ := en.UserAgent(long); family != "curl" {
		t.Errorf("UserAgent(long curl) family = %q, want curl", family)
	}
	for i := range en.ua.cache.shards {
		if n := len(en.ua.cache.shards[i].current); n != 0 {
			t.Fatalf("a user agent of %d bytes was cached", len(long))
		}
	}
}

func TestUserAgentConcurrent(t *testing.T) {
	en, _ := newEnricher(t, Config{UserAgentCacheSize: 32})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				ua := "client" + strconv.Itoa((g*7+i)%100) + "/" + strconv.Itoa(i%5) + ".0"
				family, major := en.UserAgent(ua)
				if family != "client"+strconv.Itoa((g*7+i)%100) || major != strconv.Itoa(i%5) {
					t.Errorf("UserAgent(%q) = %q, %q", ua, family, major)
					return
				}
			}
		})
	}
	wg.Wait()
}
