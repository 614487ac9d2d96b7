package main

import (
	"bytes"
	"fmt"
)

// binaryKinds names, by their first bytes, the binary files most often given
// to import by mistake, with what to do instead.
var binaryKinds = []struct {
	magic  string
	advice string
}{
	{"SQLite format 3\x00", "it is an SQLite database (such as a tokentrail --db file), not a log"},
	{"\x1f\x8b", "it is gzip data inside gzip data, so gunzip it once and import the result"},
	{"PK\x03\x04", "it is a zip archive, so unzip it and import the log files in it"},
	{"\x28\xb5\x2f\xfd", "it is zstd data, which import does not decompress, so run zstd -d on it first"},
	{"\xfd7zXZ\x00", "it is xz data, which import does not decompress, so run xz -d on it first"},
	{"BZh", "it is bzip2 data, which import does not decompress, so run bunzip2 on it first"},
	{"\xff\xfe", "it is UTF-16 text, so convert it to UTF-8 first (iconv -f UTF-16 -t UTF-8)"},
	{"\xfe\xff", "it is UTF-16 text, so convert it to UTF-8 first (iconv -f UTF-16 -t UTF-8)"},
}

// checkText returns an error when sample, the first bytes of a file after
// gzip decompression, contains a NUL byte. No log format that import reads
// has one, so such a file is binary and would only yield rejections, or never
// end when it is a device such as /dev/zero. The error names the file, the
// offset and, for a known file type, what to do.
func checkText(path string, sample []byte, compressed bool) error {
	at := bytes.IndexByte(sample, 0)
	if at < 0 {
		return nil
	}

	where := fmt.Sprintf("offset %d", at)
	if compressed {
		where += " of the decompressed data"
	}
	hint := "give a Keycloak, Kubernetes audit, Okta, Auth0 or Entra ID log or JSON lines, as text or gzip"
	for _, k := range binaryKinds {
		if bytes.HasPrefix(sample, []byte(k.magic)) {
			hint = k.advice
			break
		}
	}
	// A tar archive names itself at offset 257 of its first header, after
	// the member's name, so it has no magic at the start.
	if len(sample) >= 263 && string(sample[257:262]) == "ustar" {
		hint = "it is a tar archive, so extract it (tar xf) and import the folder of log files"
	}
	return fmt.Errorf("%s: not a text log: NUL byte at %s, so nothing was imported from it; %s", path, where, hint)
}
