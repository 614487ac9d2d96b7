// Package enrich adds context from public data sets to an event's address
// and client. It looks up the location and network of the address in
// MaxMind-format .mmdb databases and the address in threat-intel lists, and
// it finds the family and major version of the user agent.
//
// # Databases
//
// A city database (GeoLite2-City, DB-IP lite city, GeoIP2 City) gives the
// country's ISO code, the English city name, the coordinates and their
// accuracy radius in km. An ASN database (GeoLite2-ASN, DB-IP lite ASN)
// gives the ASN and the network's owner. Enrich fills only the Geo fields
// that the source left empty. It never looks up a Reserved address (private,
// loopback, link-local, CGNAT, documentation, unique-local, multicast,
// unspecified and the like), because no database locates a client there.
// A 0/0 position in a database means no position.
//
// # Lists
//
// A list file holds one IPv4 or IPv6 address or CIDR per line. A '#' or ';'
// starts a comment, blank lines are skipped, and text after the first field
// is ignored. The Tor exit-addresses format is read as well: its
// "ExitAddress 192.0.2.7 2024-05-01 10:00:00" lines give the addresses and
// its ExitNode, Published and LastStatus lines are skipped. The plain Tor
// exit list, one address per line, is an ordinary list. Any other line is
// logged with its file and line number and skipped. A file with
// such lines and no valid one is not loaded, since it is more likely an
// error page than an empty list. Each list is held in a prefix trie
// (github.com/gaissmai/bart), so a lookup costs tens of nanoseconds however
// many CIDRs are loaded.
//
// # Reloading
//
// Every ReloadInterval, each file's size, modification time and identity
// (device and inode) are compared with those of the last load. A changed
// file is read whole into memory, parsed, and swapped in at once, so a
// lookup sees the old or the new contents, never a mix. A file that is
// missing or fails to parse keeps its previous contents in use, and the
// failure is logged once per change. Files are read, not memory-mapped, so
// that a file rewritten in place cannot change under a running lookup.
//
// # Configuration
//
// ParseConfig reads a Config from YAML:
//
//	city_db: /var/lib/GeoIP/GeoLite2-City.mmdb
//	asn_db: /var/lib/GeoIP/GeoLite2-ASN.mmdb
//	reload_interval: 5m
//	verify_databases: false
//	user_agent_cache_size: 10000
//	lists:
//	  - name: tor-exit
//	    path: /var/lib/tokentrail/tor-exit-addresses.txt
//	  - name: blocklist
//	    path: /etc/tokentrail/blocklist.txt
//
// Every key is optional. ParseConfig keeps paths as written. ReadConfigFile
// reads a file and resolves relative paths against the file's folder, so
// that "path: blocklist.txt" names the blocklist.txt beside the YAML file
// wherever the process runs.
package enrich
