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
	tests = append(tests, chromiumCases...)
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

// chromiumCases are user agents with a Chrome/ product. Without "(KHTML,
// like Gecko)" the browser parser takes them for Safari or the Android
// browser; each is Chrome unless it names a more specific browser.
var chromiumCases = []struct {
	name, ua, family, major string
}{
	{"Chrome without KHTML", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36", "Chrome", "120"},
	{"Chrome on Android without KHTML", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 Chrome/120.0.0.0 Mobile Safari/537.36", "Chrome", "120"},
	{"Chrome on Android", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36", "Chrome", "120"},
	{"Chrome on iOS without KHTML", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1", "Chrome", "120"},
	{"Chromium and Chrome", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chromium/120.0.0.0 Chrome/120.0.0.0 Safari/537.36", "Chrome", "120"},
	{"Android WebView", "Mozilla/5.0 (Linux; Android 10; K; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.0.0 Mobile Safari/537.36", "Chrome", "120"},
	{"Android WebView without KHTML", "Mozilla/5.0 (Linux; Android 10; K; wv) AppleWebKit/537.36 Version/4.0 Chrome/120.0.0.0 Mobile Safari/537.36", "Chrome", "120"},
	{"bare Chrome product", "Chrome/120.0", "Chrome", "120"},
	{"Edge without KHTML", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0", "Edge", "120"},
	{"Edge on Android", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 EdgA/120.0.2210.115", "Edge", "120"},
	{"EdgeHTML", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19582", "Edge", "18"},
	{"Opera without KHTML", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 OPR/106.0", "Opera", "106"},
	{"Opera", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0", "Opera", "106"},
	{"Samsung Browser without KHTML", "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36", "Samsung Browser", "23"},
	{"Yandex Browser without KHTML", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0.0.0 YaBrowser/24.1.0.0 Safari/537.36", "Yandex Browser", "24"},
	{"Vivaldi", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Vivaldi/6.5", "Vivaldi", "6"},
	{"Electron app", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) slack/4.36 Chrome/120.0.6099.56 Electron/28.1.0 Safari/537.36", "Electron", "28"},
	{"Chrome in a comment only", "Mozilla/5.0 (X11; Linux x86_64; Chrome/120.0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15", "Safari", "17"},
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
