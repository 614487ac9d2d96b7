// Command mapgen converts the country outlines of a TopoJSON topology, such
// as countries-110m.json of the npm package world-atlas, into the compact
// map file that the web UI embeds: one SVG path per country in an
// equirectangular projection, where x = longitude + 180 and y = 90 -
// latitude, so the map's view box is 0 0 360 180.
//
// Usage:
//
//	go run ./internal/mapgen -in internal/mapgen/source/countries-110m.json -out static/world.json
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
)

func main() {
	in := flag.String("in", "", "TopoJSON file with a GeometryCollection named countries")
	out := flag.String("out", "", "map file to write")
	object := flag.String("object", "countries", "name of the topology object to convert")
	flag.Parse()
	if *in == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "mapgen: both -in and -out are required")
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*in, *out, *object); err != nil {
		fmt.Fprintln(os.Stderr, "mapgen:", err)
		os.Exit(1)
	}
}

func run(in, out, object string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("read topology: %w", err)
	}
	var topo Topology
	if err := json.Unmarshal(data, &topo); err != nil {
		return fmt.Errorf("decode topology %s: %w", in, err)
	}
	m, err := Convert(&topo, object)
	if err != nil {
		return fmt.Errorf("convert %s: %w", in, err)
	}

	encoded, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode map: %w", err)
	}
	encoded = append(encoded, '\n')
	if err := os.WriteFile(out, encoded, 0o644); err != nil {
		return errors.Join(fmt.Errorf("write map: %w", err), os.Remove(out))
	}
	return nil
}
