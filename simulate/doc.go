// Package simulate generates labelled token traffic with injected attacks,
// and scores detection on it.
//
// Run generates the events of a made-up company's identity provider and
// API gateways over Config.Days, deterministic from Config.Seed, and
// returns a Label for each attack it injected. A Scorer runs a
// detect.Engine over those events and matches its anomalies with the
// labels.
//
// # Benign traffic
//
// Every name, address and autonomous system number is invented. Events
// carry their Geo directly, so no GeoIP database is needed. The subjects are
// spread over seven regions (Germany, France, the United Kingdom, the US
// east and west coasts, India and Brazil), each with its own UTC offset,
// broadband providers and mobile carrier:
//
//   - Office workers reach the API through their office's NAT, which
//     sends four in five connections out of one address and the rest out
//     of another. Many subjects share them, so the
//     simulated deployment lists them as trusted networks, as a real one
//     would. Most also work from home some days.
//   - Remote workers use their home broadband. Its address changes now and
//     then as DHCP leases end, within the same provider.
//   - Phone users use the company's app. When the phone reconnects after
//     10 minutes idle, the carrier gives it a new address half the time.
//     A fifth of those are at another gateway up to 350 km from home, so
//     one phone appears in cities up to about 700 km apart. Carrier
//     addresses geolocate to the gateway with an accuracy radius of 300 km,
//     an assumed value.
//     Two carriers hand out IPv6 addresses only. At home the phone may use
//     the home Wi-Fi, at the office the office Wi-Fi.
//   - VPN users work through a VPN provider's egress, which the deployment
//     trusts; some mornings they start at home before they connect.
//   - Many people have a laptop and a phone: two user-agent families on two
//     different tokens.
//   - Partner service accounts call from cloud servers with
//     client-credentials tokens, as pollers or in batch jobs at 150 to 520
//     calls a minute. Internal service accounts do the same from the
//     cluster's private addresses with tokens of the cluster's own issuer,
//     which the deployment does not record.
//   - Guest streams issue short-lived tokens whose subject is a placeholder
//     ("", "null", "unknown", "-", "n/a", "undefined"), to anonymous visitors
//     everywhere, and every morning to 25 to 35 travellers behind one
//     airport Wi-Fi address.
//
// Access tokens live 15 minutes, and refresh tokens rotate at each
// refresh. An app refreshes 90 s before expiry while the user is active,
// but a quarter of the web apps and a tenth of the phone apps use the token
// until the gateway rejects it as expired. Two percent of refreshes are
// sent twice within 1.5 s, as two tabs do. On about a third of their days,
// laptops sign out after the last request, revoking both tokens, and use
// neither again. Phones keep their sessions for weeks: they start with
// refresh tokens issued before anything was recorded.
//
// The identity provider keeps the reference time. The six gateways' clocks
// are off by up to 30 s either way, and they accept tokens up to 30 s past
// exp by their own clock. Once during the run the gateways drop the old
// signing key, and each client's next request is rejected for an unknown
// key before it refreshes. Browsers and the app update within their
// families, some in the middle of the run.
//
// People keep to the countries, networks and user-agent families of their
// first days: the schedules make sure that each person's home, carrier and
// devices appear within the first few days, and never plan a home that did
// not appear by then.
//
// # Attacks
//
// Config.AttacksPerRule attacks are built for each rule of AttackRules, spread
// over the days from the second, each on a victim no other attack targets.
// Attackers replay a victim's stolen token the way the rule describes:
// after the victim's logout, hours after expiry, through rotating
// residential proxies, at 25 to 50 requests a second, from another
// continent minutes after the victim, between two of the victim's own
// requests, with a script's user agent, through Tor. They redeem stolen
// refresh tokens before or after the victim, forge tokens of the recorded
// issuer, send bursts of forged tokens from one server, sign in as 24 to 40
// people through one proxy, and, after the victim's first week, sign in
// with the victim's password from a new country, network and browser.
// Attack traffic takes no address of benign traffic and, except through
// Tor, none on the threat list.
//
// # Scoring
//
// An anomaly is put down to an attack when one of the events that prove it
// (audit.Anomaly.EventIDs) is one the attack caused (Label.EventIDs). An
// anomaly with no such event that names an attack's token (Label.Token) is
// put down to the attack when its time lies between the attack's first
// event and 15 minutes after its last. An anomaly is then:
//
//   - true when it is put down to an attack built for its own rule;
//   - also when it is put down only to attacks built for other rules, as
//     when a token replayed from another continent with curl also changes
//     its user-agent family;
//   - false when it is put down to no attack.
//
// An attack is found when at least one true anomaly is put down to it.
// Recall is found over injected; precision is the share of a rule's
// anomalies that are true or also. The targets are every attack found and
// at most one false anomaly per 100,000 benign events, with at least one
// allowed (AllowedFalse).
package simulate
