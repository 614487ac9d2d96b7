package simulate

import (
	"fmt"
	"time"
)

// Config sets the size of a simulation. The zero Config is valid: each zero
// field takes the default in its comment. The same Config always yields the
// same events and labels.
type Config struct {
	// Seed selects one of the possible simulations. Zero is a seed like any
	// other.
	Seed uint64

	// Subjects is the number of subjects: people, service accounts and the
	// guest streams that carry placeholder subjects. 60 to 1,000,000;
	// default 2,000.
	Subjects int

	// Days is the span of event time, in days of each subject's local
	// time. 2 to 366; default 14. unfamiliar_client attacks need 9 days or
	// more, since they come after the subject's first week.
	Days int

	// Events is the approximate number of benign events. The generator
	// scales the request rates of people and service accounts to reach it,
	// within about 15%. 1,000 or more; default 1,000,000.
	Events int

	// AttacksPerRule is the number of attacks injected for each rule. 0 to
	// 1,000; default 10. Use NoAttacks for none.
	AttacksPerRule int

	// Start is the first day, at midnight of each subject's local time, so
	// that subjects east of UTC begin up to 5.5 hours earlier. Default
	// 2025-03-03, a Monday. Its time of day is ignored.
	Start time.Time
}

// NoAttacks as Config.AttacksPerRule injects no attack.
const NoAttacks = -1

// The defaults that withDefaults applies to zero fields.
const (
	DefaultSubjects       = 2000
	DefaultDays           = 14
	DefaultEvents         = 1_000_000
	DefaultAttacksPerRule = 10
)

// defaultStart is the default Config.Start.
var defaultStart = time.Date(2025, time.March, 3, 0, 0, 0, 0, time.UTC)

// Validate returns an error naming the first field of c that is out of
// range, or nil. Zero fields are valid.
func (c Config) Validate() error {
	checks := []struct {
		field string
		value int
		low   int
		high  int
	}{
		{"Subjects", c.Subjects, 60, 1_000_000},
		{"Days", c.Days, 2, 366},
		{"Events", c.Events, 1000, 1 << 40},
		{"AttacksPerRule", c.AttacksPerRule, NoAttacks, 1000},
	}
	for _, ch := range checks {
		if ch.value != 0 && (ch.value < ch.low || ch.value > ch.high) {
			return fmt.Errorf("simulate: %s is %d, want %d to %d", ch.field, ch.value, ch.low, ch.high)
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Subjects == 0 {
		c.Subjects = DefaultSubjects
	}
	if c.Days == 0 {
		c.Days = DefaultDays
	}
	if c.Events == 0 {
		c.Events = DefaultEvents
	}
	switch c.AttacksPerRule {
	case 0:
		c.AttacksPerRule = DefaultAttacksPerRule
	case NoAttacks:
		c.AttacksPerRule = 0
	}
	if c.Start.IsZero() {
		c.Start = defaultStart
	}
	y, m, d := c.Start.UTC().Date()
	c.Start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return c
}
