package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// square is a topology of two countries sharing one arc: A is the square
// from (0,0) to (10,10) in longitude and latitude, B the square east of it,
// whose ring walks the shared arc backwards. Positions are quantized with
// a scale of 0.5 degree and delta-encoded.
const square = `{
  "type": "Topology",
  "transform": {"scale": [0.5, 0.5], "translate": [0, 0]},
  "arcs": [
    [[20, 0], [0, 20]],
    [[20, 20], [-20, 0], [0, -20], [20, 0]],
    [[20, 20], [20, 0], [0, -20], [-20, 0]]
  ],
  "objects": {"countries": {"type": "GeometryCollection", "geometries": [
    {"type": "Polygon", "id": "001", "properties": {"name": "A"}, "arcs": [[0, 1]]},
    {"type": "Polygon", "id": 2, "properties": {"name": "B"}, "arcs": [[-1, -3]]},
    {"type": null, "properties": {"name": "Empty"}}
  ]}}
}`

func convertString(t *testing.T, doc string) *Map {
	t.Helper()
	var topo Topology
	if err := json.Unmarshal([]byte(doc), &topo); err != nil {
		t.Fatalf("decode topology: %v", err)
	}
	m, err := Convert(&topo, "countries")
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	return m
}

func TestConvertSharedArc(t *testing.T) {
	m := convertString(t, square)

	if len(m.Countries) != 2 {
		t.Fatalf("len(Countries) = %d, want 2 (the geometry without arcs draws nothing)", len(m.Countries))
	}
	tests := []struct {
		name, id, path string
	}{
		// Longitude 10 is x 190; latitude 10 is y 80.
		{"A", "001", "M190 90L190 80L180 80L180 90Z"},
		// The shared arc walked backwards, then arc 2 from its second point.
		{"B", "2", "M190 80L190 90L200 90L200 80Z"},
	}
	for i, tt := range tests {
		got := m.Countries[i]
		if got.Name != tt.name {
			t.Errorf("Countries[%d].Name = %q, want %q", i, got.Name, tt.name)
		}
		if got.ID != tt.id {
			t.Errorf("Countries[%d].ID = %q, want %q", i, got.ID, tt.id)
		}
		if got.Path != tt.path {
			t.Errorf("Countries[%d].Path = %q, want %q", i, got.Path, tt.path)
		}
	}
}

func TestConvertAntimeridianRing(t *testing.T) {
	// An island cut at the antimeridian: from longitude 179 to 180, on to
	// -180 (the same meridian) and -179, and back.
	const doc = `{
  "type": "Topology",
  "arcs": [[[179, 0], [180, 0], [-180, 0], [-179, 0], [-179, 1], [-180, 1], [180, 1], [179, 1], [179, 0]]],
  "objects": {"countries": {"type": "GeometryCollection", "geometries": [
    {"type": "Polygon", "properties": {"name": "Island"}, "arcs": [[0]]}
  ]}}
}`
	m := convertString(t, doc)

	got := m.Countries[0].Path
	want := "M359 90L360 90L361 90L361 89L360 89L359 89Z" + "M-1 90L0 90L1 90L1 89L0 89L-1 89Z"
	if got != want {
		t.Errorf("Path = %q, want %q (one ring unwrapped past x 360, and a copy shifted by -360)", got, want)
	}
}

func TestConvertPolarRing(t *testing.T) {
	// A ring around the south pole runs once across the whole map, and the
	// step from 180 back to -180 closes it along the bottom edge.
	const doc = `{
  "type": "Topology",
  "arcs": [[[-180, -80], [0, -70], [180, -80], [180, -90], [-180, -90], [-180, -80]]],
  "objects": {"countries": {"type": "GeometryCollection", "geometries": [
    {"type": "Polygon", "properties": {"name": "Pole"}, "arcs": [[0]]}
  ]}}
}`
	m := convertString(t, doc)

	if got, want := m.Countries[0].Path, "M0 170L180 160L360 170L360 180L0 180Z"; got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
}

func TestConvertRejectsBadInput(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"not a topology", `{"type": "FeatureCollection"}`, `type is "FeatureCollection"`},
		{"missing object", `{"type": "Topology", "objects": {}}`, `no object named "countries"`},
		{"arc out of range", `{"type": "Topology", "arcs": [], "objects": {"countries": {"type": "GeometryCollection",
			"geometries": [{"type": "Polygon", "properties": {"name": "X"}, "arcs": [[3]]}]}}}`, "arc 3 out of range"},
		{"point geometry", `{"type": "Topology", "objects": {"countries": {"type": "GeometryCollection",
			"geometries": [{"type": "Point", "properties": {"name": "X"}}]}}}`, "is a Point"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var topo Topology
			if err := json.Unmarshal([]byte(tt.doc), &topo); err != nil {
				t.Fatalf("decode topology: %v", err)
			}
			_, err := Convert(&topo, "countries")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Convert error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestGeneratedMapIsCurrent checks that the committed map is what the
// committed source converts to, so that an edit to either is not lost.
func TestGeneratedMapIsCurrent(t *testing.T) {
	out := t.TempDir() + "/world.json"
	if err := run("source/countries-110m.json", out, "countries"); err != nil {
		t.Fatalf("run: %v", err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../../static/world.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(committed) {
		t.Errorf("webui/static/world.json differs from the conversion of source/countries-110m.json: run go generate ./webui")
	}
	if len(committed) > 200<<10 {
		t.Errorf("len(world.json) = %d bytes, want at most 200 KiB", len(committed))
	}
}
