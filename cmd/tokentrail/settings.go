package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tokentrail/tokentrail/store"
)

// detectionSetting is the name under which a store keeps the detection
// settings that runs on it use.
const detectionSetting = "detection"

// noFile is the value of --rules or --enrich that selects the built-in
// defaults and clears what the store keeps.
const noFile = "none"

// detectionSettings are the --rules and --enrich files of a run. A store
// keeps the last ones used on it, so that a later import, detect,
// investigate or incident without those flags checks the events the same
// way. The store keeps the content of the rules file, which is small
// and states every threshold, and the path of the enrich file, whose
// databases stay in their files.
type detectionSettings struct {
	RulesFile  string `json:"rules_file,omitempty"`  // absolute path of the --rules file when it was read
	Rules      []byte `json:"rules,omitempty"`       // the content of RulesFile then
	EnrichFile string `json:"enrich_file,omitempty"` // absolute path of the --enrich file
}

// resolveDetection returns the settings of a run: each flag that is given,
// or "none" for the defaults, and for each flag that is not, what db keeps.
// It writes a note to stderr when it uses what db keeps. db may be nil.
func resolveDetection(ctx context.Context, db store.SettingStore, rulesFlag, enrichFlag string, stderr io.Writer) (detectionSettings, error) {
	stored, err := storedDetection(ctx, db)
	if err != nil {
		return detectionSettings{}, err
	}
	s := stored
	var reused []string

	switch rulesFlag {
	case "":
		if s.RulesFile != "" {
			reused = append(reused, "--rules "+s.RulesFile)
		}
	case noFile:
		s.RulesFile, s.Rules = "", nil
	default:
		abs, err := filepath.Abs(rulesFlag)
		if err != nil {
			return detectionSettings{}, fmt.Errorf("invalid --rules %s: %w", rulesFlag, err)
		}
		data, err := os.ReadFile(abs)
		if err != nil {
			return detectionSettings{}, fmt.Errorf("read --rules: %w", err)
		}
		s.RulesFile, s.Rules = abs, data
	}

	switch enrichFlag {
	case "":
		if s.EnrichFile != "" {
			reused = append(reused, "--enrich "+s.EnrichFile)
		}
	case noFile:
		s.EnrichFile = ""
	default:
		abs, err := filepath.Abs(enrichFlag)
		if err != nil {
			return detectionSettings{}, fmt.Errorf("invalid --enrich %s: %w", enrichFlag, err)
		}
		s.EnrichFile = abs
	}

	if len(reused) > 0 {
		fmt.Fprintf(stderr, "detection: %s, as an earlier run on this store used; pass --rules or --enrich to change them, or none for the defaults\n",
			strings.Join(reused, " and "))
	}
	return s, nil
}

// storedDetection returns the settings db keeps, or none when db is nil or
// keeps none.
func storedDetection(ctx context.Context, db store.SettingStore) (detectionSettings, error) {
	var s detectionSettings
	if db == nil {
		return s, nil
	}
	data, found, err := db.Setting(ctx, detectionSetting)
	if err != nil || !found {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return detectionSettings{}, fmt.Errorf("read the detection settings kept in the store: %w", err)
	}
	return s, nil
}

// saveDetection makes db keep s for later runs, when it keeps other
// settings now.
func saveDetection(ctx context.Context, db store.SettingStore, s detectionSettings) error {
	stored, err := storedDetection(ctx, db)
	if err != nil {
		return err
	}
	if stored.RulesFile == s.RulesFile && bytes.Equal(stored.Rules, s.Rules) && stored.EnrichFile == s.EnrichFile {
		return nil
	}
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := db.SetSetting(ctx, detectionSetting, data); err != nil {
		return fmt.Errorf("keep the detection settings in the store: %w", err)
	}
	return nil
}
