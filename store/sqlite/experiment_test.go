package sqlite

import (
	"context"
	"slices"

	"fmt"
	"github.com/tokentrail/tokentrail/audit"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func cpuTime() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// TT_VARIANTS="name=pragma;pragma|name2=...", batch via name suffix @N
func BenchmarkExperiment(b *testing.B) {
	events := loadBenchEvents(b)
	for _, v := range strings.Split(os.Getenv("TT_VARIANTS"), "|") {
		name, prag, _ := strings.Cut(v, "=")
		batch := importBatchDefault
		if n, bs, ok := strings.Cut(name, "@"); ok {
			fmt.Sscan(bs, &batch)
			_ = n
		}
		imp := importOurs
		if idx, ok := strings.CutPrefix(name, "drop-"); ok {
			idx, _, _ = strings.Cut(idx, "@")
			imp = func(ctx context.Context, path string, events []audit.Event) error {
				s, err := Open(ctx, path)
				if err != nil {
					return err
				}
				if _, err := s.writer.Exec("DROP INDEX " + idx); err != nil {
					return err
				}
				s.Close()
				return importOurs(ctx, path, events)
			}
		}
		if strings.HasPrefix(name, "slim") {
			imp = func(ctx context.Context, path string, events []audit.Event) error {
				slim := slices.Clone(events)
				for i := range slim {
					slim[i].UserAgent = ""
					slim[i].Geo = audit.Geo{}
				}
				return importOurs(ctx, path, slim)
			}
		}
		if strings.HasPrefix(name, "ceiling") {
			imp = importCeiling
		}
		if strings.HasPrefix(name, "naive") {
			imp = importNaive
		}
		if strings.HasPrefix(name, "naiveprep") {
			imp = importNaivePrepared
		}
		b.Run(name, func(b *testing.B) {
			experimentPragmas = nil
			if prag != "" {
				experimentPragmas = strings.Split(prag, ";")
			}
			importBatch = batch
			c0 := cpuTime()
			for range b.N {
				path := filepath.Join(b.TempDir(), "x.db")
				if err := imp(context.Background(), path, events); err != nil {
					b.Fatal(err)
				}
			}
			c := cpuTime() - c0
			b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(c*1e6/float64(b.N*len(events)), "cpu-us/event")
			experimentPragmas = nil
		})
	}
}

func TestExperimentSizes(t *testing.T) {
	if os.Getenv("TT_SIZES") == "" {
		t.Skip()
	}
	events := loadBenchEvents(t)
	path := "/tmp/tt-sizes.db"
	os.Remove(path)
	os.Remove(path + "-wal")
	importBatch = 50000
	if err := importOurs(context.Background(), path, events); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.reader.Query("SELECT name, count(*), sum(pgsize), sum(unused) FROM dbstat GROUP BY name ORDER BY 3 DESC")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var pages, size, unused int64
		rows.Scan(&name, &pages, &size, &unused)
		t.Logf("%-28s pages=%7d  %6.1f MiB  unused %4.1f%%", name, pages, float64(size)/(1<<20), 100*float64(unused)/float64(size))
	}
}
