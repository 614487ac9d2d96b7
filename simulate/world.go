package simulate

import (
	"encoding/binary"
	"math"
	"net/netip"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// The world of the simulation: regions where subjects live, the networks
// that carry their traffic, and the networks attackers use. Every name,
// autonomous system number and address below is invented. The ASNs come
// from the private-use range (RFC 6996). The addresses are public unicast
// addresses, because detection skips the reserved and documentation ranges.
// Any real network that holds one of these ranges has nothing to do with
// the simulation.

// city is a place that geolocation reports, at its centre.
type city struct {
	name     string
	lat, lon float64
}

// network is an autonomous system with an IPv4 block and, for some, an
// IPv6 block.
type network struct {
	asn        uint32
	org        string
	v4         netip.Prefix
	v6         netip.Prefix // invalid when the network has no IPv6 addresses
	accuracyKM float64      // the accuracy radius its addresses geolocate with
}

// gateway is an egress point of a mobile carrier: its addresses geolocate
// to the gateway's city, wherever the phone is.
type gateway struct {
	city city
	v4   netip.Prefix // a /20 of the carrier's block
	v6   netip.Prefix // a /40 of the carrier's IPv6 block, when it has one
}

// carrier is a mobile network that moves its subscribers between gateways.
type carrier struct {
	network
	gateways []gateway
}

// office is a company office whose staff reach the internet through a few
// NAT addresses.
type office struct {
	city    city
	network *network
	egress  netip.Prefix // the office's NAT range, trusted by the deployment
}

// region is where a subject lives: one country, one UTC offset (daylight
// saving time is not simulated), its cities and its networks.
type region struct {
	name     string
	country  string
	offset   time.Duration // local time minus UTC
	weight   float64       // share of the user subjects
	cities   []city
	isps     []*network // residential broadband
	carriers []*carrier
	office   *office // nil where the company has no office
}

// site is a point of presence of a hosting or VPN network in one city.
type site struct {
	city    city
	country string
	v4      netip.Prefix
	network *network
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// Cities, by region.
var (
	berlin    = city{"Berlin", 52.520, 13.405}
	hamburg   = city{"Hamburg", 53.551, 9.994}
	leipzig   = city{"Leipzig", 51.340, 12.375}
	hanover   = city{"Hanover", 52.376, 9.732}
	frankfurt = city{"Frankfurt am Main", 50.110, 8.682}
	cologne   = city{"Cologne", 50.938, 6.960}
	munich    = city{"Munich", 48.137, 11.575}
	stuttgart = city{"Stuttgart", 48.776, 9.183}

	paris = city{"Paris", 48.857, 2.352}
	lille = city{"Lille", 50.629, 3.057}
	lyon  = city{"Lyon", 45.764, 4.836}
	rouen = city{"Rouen", 49.443, 1.099}
	reims = city{"Reims", 49.258, 4.032}

	london     = city{"London", 51.507, -0.128}
	birmingham = city{"Birmingham", 52.486, -1.890}
	manchester = city{"Manchester", 53.481, -2.243}
	bristol    = city{"Bristol", 51.455, -2.588}

	newYork      = city{"New York", 40.713, -74.006}
	boston       = city{"Boston", 42.360, -71.059}
	philadelphia = city{"Philadelphia", 39.953, -75.165}
	washington   = city{"Washington", 38.907, -77.037}
	ashburn      = city{"Ashburn", 39.044, -77.488}

	sanFrancisco = city{"San Francisco", 37.775, -122.419}
	sanJose      = city{"San Jose", 37.339, -121.895}
	losAngeles   = city{"Los Angeles", 34.052, -118.244}
	sacramento   = city{"Sacramento", 38.582, -121.494}

	bengaluru = city{"Bengaluru", 12.972, 77.595}
	chennai   = city{"Chennai", 13.083, 80.271}
	hyderabad = city{"Hyderabad", 17.385, 78.487}
	mysuru    = city{"Mysuru", 12.296, 76.639}
	mumbai    = city{"Mumbai", 19.076, 72.878}

	saoPaulo  = city{"São Paulo", -23.551, -46.633}
	rio       = city{"Rio de Janeiro", -22.907, -43.173}
	campinas  = city{"Campinas", -22.909, -47.063}
	amsterdam = city{"Amsterdam", 52.370, 4.895}
	singapore = city{"Singapore", 1.352, 103.820}
	bucharest = city{"Bucharest", 44.427, 26.103}
	stockholm = city{"Stockholm", 59.329, 18.069}
	zurich    = city{"Zurich", 47.377, 8.541}
	hanoi     = city{"Hanoi", 21.028, 105.834}
	lagos     = city{"Lagos", 6.524, 3.379}
	moscow    = city{"Moscow", 55.756, 37.617}
)

// Residential broadband networks, by region.
var (
	spreeKabel    = &network{64601, "Spree Kabel GmbH", mustPrefix("77.180.0.0/16"), netip.Prefix{}, 20}
	rheinDSL      = &network{64602, "Rhein DSL AG", mustPrefix("91.40.0.0/16"), netip.Prefix{}, 20}
	seineFibre    = &network{64611, "Seine Fibre SA", mustPrefix("82.120.0.0/16"), netip.Prefix{}, 20}
	lumiereBox    = &network{64612, "Lumiere Box SAS", mustPrefix("90.60.0.0/16"), netip.Prefix{}, 20}
	thamesBB      = &network{64621, "Thames Broadband Ltd", mustPrefix("86.140.0.0/16"), netip.Prefix{}, 20}
	pennineFibre  = &network{64622, "Pennine Fibre Ltd", mustPrefix("81.96.0.0/16"), netip.Prefix{}, 20}
	atlanticCable = &network{64631, "Atlantic Cable LLC", mustPrefix("73.40.0.0/16"), netip.Prefix{}, 20}
	libertyFiber  = &network{64632, "Liberty Fiber Inc", mustPrefix("108.20.0.0/16"), netip.Prefix{}, 20}
	pacificBB     = &network{64641, "Pacific Broadband Inc", mustPrefix("76.100.0.0/16"), netip.Prefix{}, 20}
	sierraNet     = &network{64642, "Sierra Net LLC", mustPrefix("98.200.0.0/16"), netip.Prefix{}, 20}
	deccanBB      = &network{64651, "Deccan Broadband Pvt Ltd", mustPrefix("49.200.0.0/16"), netip.Prefix{}, 25}
	kaveriFiber   = &network{64652, "Kaveri Fiber Pvt Ltd", mustPrefix("122.170.0.0/16"), netip.Prefix{}, 25}
	paulistaNet   = &network{64661, "Paulista Net Ltda", mustPrefix("177.80.0.0/16"), netip.Prefix{}, 25}
	guanabara     = &network{64662, "Guanabara Fibra Ltda", mustPrefix("189.40.0.0/16"), netip.Prefix{}, 25}
)

// carrierAccuracyKM is the accuracy radius of a carrier address, which
// geolocates to its gateway's city. The value is an assumption: GeoIP data
// tends to give mobile ranges radii of hundreds of km, but the simulation
// has no such data to check it against. impossible_travel's verdict on a
// phone that leaves its home Wi-Fi for the carrier depends on it.
const carrierAccuracyKM = 300

// Mobile carriers, by region. Two of them hand out IPv6 addresses only, as
// carriers that run 464XLAT do.
var (
	nordwelle = &carrier{network{64603, "Nordwelle Mobil GmbH", mustPrefix("80.187.0.0/16"), mustPrefix("2a0a:a540::/32"), carrierAccuracyKM},
		gateways(mustPrefix("80.187.0.0/16"), mustPrefix("2a0a:a540::/32"), berlin, hamburg, leipzig, frankfurt, cologne, munich)}
	azurMobile = &carrier{network{64613, "Azur Mobile SA", mustPrefix("92.184.0.0/16"), netip.Prefix{}, carrierAccuracyKM},
		gateways(mustPrefix("92.184.0.0/16"), netip.Prefix{}, paris, lille, lyon)}
	albionMobile = &carrier{network{64623, "Albion Mobile Ltd", mustPrefix("92.40.0.0/16"), netip.Prefix{}, carrierAccuracyKM},
		gateways(mustPrefix("92.40.0.0/16"), netip.Prefix{}, london, manchester, bristol)}
	easternWireless = &carrier{network{64633, "Eastern Wireless Inc", mustPrefix("172.56.0.0/16"), mustPrefix("2a0b:b330::/32"), carrierAccuracyKM},
		gateways(mustPrefix("172.56.0.0/16"), mustPrefix("2a0b:b330::/32"), newYork, washington, boston)}
	goldenWireless = &carrier{network{64643, "Golden Wireless Inc", mustPrefix("174.200.0.0/16"), netip.Prefix{}, carrierAccuracyKM},
		gateways(mustPrefix("174.200.0.0/16"), netip.Prefix{}, sanFrancisco, losAngeles)}
	tejasMobile = &carrier{network{64653, "Tejas Mobile Ltd", mustPrefix("106.200.0.0/16"), netip.Prefix{}, carrierAccuracyKM},
		gateways(mustPrefix("106.200.0.0/16"), netip.Prefix{}, bengaluru, chennai, hyderabad)}
	verdeMovel = &carrier{network{64663, "Verde Movel SA", mustPrefix("179.100.0.0/16"), netip.Prefix{}, carrierAccuracyKM},
		gateways(mustPrefix("179.100.0.0/16"), netip.Prefix{}, saoPaulo, rio)}
)

// gateways gives each city a /20 of v4 and a /40 of v6, in order.
func gateways(v4, v6 netip.Prefix, cities ...city) []gateway {
	out := make([]gateway, len(cities))
	for i, c := range cities {
		out[i] = gateway{city: c, v4: subPrefix(v4, 20, i)}
		if v6.IsValid() {
			out[i].v6 = subPrefix(v6, 40, i)
		}
	}
	return out
}

// The regions of the subjects. Offices sit in the top /28 of a residential
// network's block, since business lines come from the same providers.
var regions = []*region{
	{name: "DE", country: "DE", offset: time.Hour, weight: 0.22,
		cities: []city{berlin, hamburg, leipzig, hanover, frankfurt, cologne, munich, stuttgart},
		isps:   []*network{spreeKabel, rheinDSL}, carriers: []*carrier{nordwelle},
		office: &office{city: berlin, network: spreeKabel, egress: mustPrefix("77.180.255.16/28")}},
	{name: "FR", country: "FR", offset: time.Hour, weight: 0.12,
		cities: []city{paris, lille, lyon, rouen, reims},
		isps:   []*network{seineFibre, lumiereBox}, carriers: []*carrier{azurMobile},
		office: &office{city: paris, network: seineFibre, egress: mustPrefix("82.120.255.32/28")}},
	{name: "GB", country: "GB", offset: 0, weight: 0.14,
		cities: []city{london, birmingham, manchester, bristol},
		isps:   []*network{thamesBB, pennineFibre}, carriers: []*carrier{albionMobile},
		office: &office{city: london, network: thamesBB, egress: mustPrefix("86.140.255.48/28")}},
	{name: "US-East", country: "US", offset: -5 * time.Hour, weight: 0.18,
		cities: []city{newYork, boston, philadelphia, washington},
		isps:   []*network{atlanticCable, libertyFiber}, carriers: []*carrier{easternWireless},
		office: &office{city: newYork, network: libertyFiber, egress: mustPrefix("108.20.255.64/28")}},
	{name: "US-West", country: "US", offset: -8 * time.Hour, weight: 0.10,
		cities: []city{sanFrancisco, sanJose, losAngeles, sacramento},
		isps:   []*network{pacificBB, sierraNet}, carriers: []*carrier{goldenWireless},
		office: &office{city: sanFrancisco, network: pacificBB, egress: mustPrefix("76.100.255.80/28")}},
	{name: "IN", country: "IN", offset: 5*time.Hour + 30*time.Minute, weight: 0.14,
		cities: []city{bengaluru, chennai, hyderabad, mysuru},
		isps:   []*network{deccanBB, kaveriFiber}, carriers: []*carrier{tejasMobile},
		office: &office{city: bengaluru, network: deccanBB, egress: mustPrefix("49.200.255.96/28")}},
	{name: "BR", country: "BR", offset: -3 * time.Hour, weight: 0.10,
		cities: []city{saoPaulo, rio, campinas},
		isps:   []*network{paulistaNet, guanabara}, carriers: []*carrier{verdeMovel}},
}

// The VPN and SASE provider whose egress the deployment trusts. Its points
// of presence sit in eight /24s of one /21.
var (
	zenithSASE = &network{64700, "Zenith SASE Inc", mustPrefix("194.150.16.0/21"), netip.Prefix{}, 50}
	vpnSites   = []site{
		{frankfurt, "DE", mustPrefix("194.150.16.0/24"), zenithSASE},
		{amsterdam, "NL", mustPrefix("194.150.17.0/24"), zenithSASE},
		{london, "GB", mustPrefix("194.150.18.0/24"), zenithSASE},
		{paris, "FR", mustPrefix("194.150.19.0/24"), zenithSASE},
		{ashburn, "US", mustPrefix("194.150.20.0/24"), zenithSASE},
		{sanJose, "US", mustPrefix("194.150.21.0/24"), zenithSASE},
		{mumbai, "IN", mustPrefix("194.150.22.0/24"), zenithSASE},
		{saoPaulo, "BR", mustPrefix("194.150.23.0/24"), zenithSASE},
	}
)

// vpnSiteFor returns the point of presence nearest to c.
func vpnSiteFor(c city) site {
	best := vpnSites[0]
	for _, s := range vpnSites[1:] {
		if distanceKM(c, s.city) < distanceKM(c, best.city) {
			best = s
		}
	}
	return best
}

// Hosting networks: partners' servers, and attackers' infrastructure.
var (
	nimbusCloud = &network{64800, "Nimbus Cloud Inc", mustPrefix("45.140.0.0/16"), netip.Prefix{}, 50}
	bluefin     = &network{64801, "Bluefin Hosting BV", mustPrefix("193.32.0.0/16"), netip.Prefix{}, 50}
	carpatHost  = &network{64802, "Carpat Host SRL", mustPrefix("89.38.96.0/20"), netip.Prefix{}, 50}
	nordlys     = &network{64803, "Nordlys Hosting AB", mustPrefix("31.220.0.0/16"), netip.Prefix{}, 50}
	alpen       = &network{64804, "Alpen Hosting AG", mustPrefix("178.209.0.0/16"), netip.Prefix{}, 50}

	nimbusFrankfurt = site{frankfurt, "DE", mustPrefix("45.140.0.0/18"), nimbusCloud}
	nimbusAshburn   = site{ashburn, "US", mustPrefix("45.140.64.0/18"), nimbusCloud}
	nimbusSingapore = site{singapore, "SG", mustPrefix("45.140.128.0/18"), nimbusCloud}
	bluefinAMS      = site{amsterdam, "NL", mustPrefix("193.32.0.0/16"), bluefin}
	carpatBUH       = site{bucharest, "RO", mustPrefix("89.38.96.0/20"), carpatHost}
	nordlysSTO      = site{stockholm, "SE", mustPrefix("31.220.0.0/16"), nordlys}
	alpenZRH        = site{zurich, "CH", mustPrefix("178.209.0.0/16"), alpen}

	// hostingSites are where attackers rent servers. None of them is on
	// the threat list, except through the addresses listed below.
	hostingSites = []site{nimbusFrankfurt, nimbusAshburn, nimbusSingapore, bluefinAMS}
)

// The exits of residential proxy services abroad: home networks whose
// subscribers' machines the services rent out, and a cloud range in
// Singapore that one of them runs.
var (
	songHong   = &network{64901, "Song Hong Telecom", mustPrefix("113.160.0.0/16"), netip.Prefix{}, 25}
	lagoonNet  = &network{64902, "Lagoon Net Ltd", mustPrefix("105.112.0.0/16"), netip.Prefix{}, 25}
	moskvaTel  = &network{64903, "Moskva Telecom", mustPrefix("95.24.0.0/16"), netip.Prefix{}, 25}
	proxySites = []site{
		{hanoi, "VN", songHong.v4, songHong},
		{lagos, "NG", lagoonNet.v4, lagoonNet},
		{moscow, "RU", moskvaTel.v4, moskvaTel},
		{singapore, "SG", mustPrefix("45.140.192.0/18"), nimbusCloud},
	}
)

// skyport is the public Wi-Fi of an airport: many travellers behind one
// address, which the deployment does not trust.
var (
	skyportNet = &network{64720, "SkyPort Wi-Fi GmbH", mustPrefix("62.157.150.0/24"), netip.Prefix{}, 5}
	skyport    = site{frankfurt, "DE", mustPrefix("62.157.150.0/24"), skyportNet}
)

// internalPods is the private range of the company's Kubernetes cluster.
var internalPods = mustPrefix("10.20.0.0/16")

// The threat list: Tor exit relays and a hosting range with a record of
// abuse, plus one stale entry that covers part of the VPN egress.
var (
	torExits = []struct {
		addr netip.Addr
		site site
	}{
		{netip.MustParseAddr("31.220.4.17"), nordlysSTO},
		{netip.MustParseAddr("31.220.9.201"), nordlysSTO},
		{netip.MustParseAddr("178.209.33.5"), alpenZRH},
		{netip.MustParseAddr("178.209.40.77"), alpenZRH},
		{netip.MustParseAddr("193.32.200.14"), bluefinAMS},
		{netip.MustParseAddr("193.32.201.99"), bluefinAMS},
	}
	abusiveRange = mustPrefix("89.38.98.0/23")
	staleEntry   = vpnSites[2].v4
)

// subPrefix returns the i-th prefix of the given length within p. For
// IPv6, bits must be at most 64.
func subPrefix(p netip.Prefix, bits, i int) netip.Prefix {
	a := p.Masked().Addr()
	if a.Is4() {
		return netip.PrefixFrom(addV4(a, uint32(i)<<(32-bits)), bits)
	}
	hi, lo := halves(a)
	return netip.PrefixFrom(fromHalves(hi+uint64(i)<<(64-bits), lo), bits)
}

// addrAt returns the address at offset n from the start of p: for IPv6, n
// is the interface identifier within p's first /64.
func addrAt(p netip.Prefix, n uint64) netip.Addr {
	a := p.Masked().Addr()
	if a.Is4() {
		return addV4(a, uint32(n))
	}
	hi, lo := halves(a)
	return fromHalves(hi, lo+n)
}

func addV4(a netip.Addr, n uint32) netip.Addr {
	b := a.As4()
	v := binary.BigEndian.Uint32(b[:]) + n
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

func halves(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

func fromHalves(hi, lo uint64) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return netip.AddrFrom16(b)
}

// geoOf returns what GeoIP data would say of an address of n placed in c.
func geoOf(n *network, c city, country string) audit.Geo {
	return audit.Geo{
		Country: country, City: c.name,
		Latitude: c.lat, Longitude: c.lon,
		AccuracyKM: n.accuracyKM,
		ASN:        n.asn, Org: n.org,
	}
}

// distanceKM returns the great-circle distance between two cities.
func distanceKM(a, b city) float64 {
	const earthRadiusKM = 6371.0
	const rad = math.Pi / 180
	dlat := (b.lat - a.lat) * rad
	dlon := (b.lon - a.lon) * rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) +
		math.Cos(a.lat*rad)*math.Cos(b.lat*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * earthRadiusKM * math.Asin(math.Sqrt(min(h, 1)))
}
