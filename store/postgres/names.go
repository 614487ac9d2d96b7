package postgres

import (
	"regexp"
	"strings"
)

// IsURL reports whether name is a postgres:// or postgresql:// URL, the
// scheme in any case, which Open takes, rather than the path of a SQLite
// file.
func IsURL(name string) bool {
	scheme, _, ok := strings.Cut(name, "://")
	return ok && (strings.EqualFold(scheme, "postgres") || strings.EqualFold(scheme, "postgresql"))
}

// NormalURL returns a URL for which IsURL is true with its scheme in lower
// case, the only case the driver reads.
func NormalURL(url string) string {
	scheme, rest, _ := strings.Cut(url, "://")
	return strings.ToLower(scheme) + "://" + rest
}

// settingPattern matches a setting of a libpq key=value connection string,
// such as "host=db dbname=tokentrail".
var settingPattern = regexp.MustCompile(`(^|\s)(host|hostaddr|port|dbname|user|password|sslmode|service)\s*=`)

// LooksLikeSettings reports whether name is a libpq key=value connection
// string, or a URL whose scheme lacks its "//", rather than a file path.
// Callers that take a store as a URL or a file refuse such a name instead
// of creating a SQLite file named after it, password and all.
func LooksLikeSettings(name string) bool {
	if IsURL(name) {
		return false
	}
	lower := strings.ToLower(name)
	return settingPattern.MatchString(name) || strings.HasPrefix(lower, "postgres:") || strings.HasPrefix(lower, "postgresql:")
}
