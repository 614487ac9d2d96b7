package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Topology is the part of a TopoJSON document (specification 1.0) that
// mapgen reads: quantized, delta-encoded arcs and named geometry objects.
type Topology struct {
	Type      string              `json:"type"`
	Transform *Transform          `json:"transform"`
	Arcs      [][][2]float64      `json:"arcs"`
	Objects   map[string]Geometry `json:"objects"`
}

// Transform maps quantized positions back to longitude and latitude.
type Transform struct {
	Scale     [2]float64 `json:"scale"`
	Translate [2]float64 `json:"translate"`
}

// Geometry is a TopoJSON geometry object. Arcs is [][]int for a Polygon,
// [][][]int for a MultiPolygon, and unset for a GeometryCollection.
type Geometry struct {
	Type       string          `json:"type"`
	ID         json.RawMessage `json:"id"`
	Properties struct {
		Name string `json:"name"`
	} `json:"properties"`
	Arcs       json.RawMessage `json:"arcs"`
	Geometries []Geometry      `json:"geometries"`
}

// Map is the file the web UI embeds.
type Map struct {
	Width     int       `json:"width"`
	Height    int       `json:"height"`
	Countries []Country `json:"countries"`
}

// Country is one outline: Path is SVG path data in map coordinates.
type Country struct {
	ID   string `json:"id,omitempty"` // ISO 3166-1 numeric code, empty for disputed areas without one
	Name string `json:"name"`
	Path string `json:"d"`
}

// Convert projects the polygons of the GeometryCollection named object
// into a Map. Coordinates are rounded to a tenth of a degree, about 11 km
// at the equator, which is finer than a pixel at the sizes the UI draws.
func Convert(topo *Topology, object string) (*Map, error) {
	if topo.Type != "Topology" {
		return nil, fmt.Errorf("type is %q, want Topology", topo.Type)
	}
	collection, ok := topo.Objects[object]
	if !ok {
		return nil, fmt.Errorf("no object named %q", object)
	}
	if collection.Type != "GeometryCollection" {
		return nil, fmt.Errorf("object %q is a %s, want a GeometryCollection", object, collection.Type)
	}
	arcs := decodeArcs(topo)

	m := &Map{Width: 360, Height: 180}
	for i, g := range collection.Geometries {
		var polygons [][][]int
		switch g.Type {
		case "Polygon":
			var rings [][]int
			if err := json.Unmarshal(g.Arcs, &rings); err != nil {
				return nil, fmt.Errorf("geometry %d (%s): decode arcs: %w", i, g.Properties.Name, err)
			}
			polygons = [][][]int{rings}
		case "MultiPolygon":
			if err := json.Unmarshal(g.Arcs, &polygons); err != nil {
				return nil, fmt.Errorf("geometry %d (%s): decode arcs: %w", i, g.Properties.Name, err)
			}
		case "", "null":
			continue // a feature without geometry draws nothing
		default:
			return nil, fmt.Errorf("geometry %d (%s) is a %s, want Polygon or MultiPolygon", i, g.Properties.Name, g.Type)
		}

		var path strings.Builder
		for _, rings := range polygons {
			for _, ring := range rings {
				points, err := stitch(arcs, ring)
				if err != nil {
					return nil, fmt.Errorf("geometry %d (%s): %w", i, g.Properties.Name, err)
				}
				writeRing(&path, points)
			}
		}
		if path.Len() == 0 {
			continue
		}
		m.Countries = append(m.Countries, Country{ID: geometryID(g.ID), Name: g.Properties.Name, Path: path.String()})
	}
	return m, nil
}

// decodeArcs undoes the delta encoding and quantization of the arcs,
// returning longitude and latitude pairs.
func decodeArcs(topo *Topology) [][][2]float64 {
	decoded := make([][][2]float64, len(topo.Arcs))
	for i, arc := range topo.Arcs {
		points := make([][2]float64, len(arc))
		var x, y float64
		for j, p := range arc {
			if topo.Transform == nil {
				points[j] = p
				continue
			}
			x += p[0]
			y += p[1]
			points[j] = [2]float64{
				x*topo.Transform.Scale[0] + topo.Transform.Translate[0],
				y*topo.Transform.Scale[1] + topo.Transform.Translate[1],
			}
		}
		decoded[i] = points
	}
	return decoded
}

// stitch joins the arcs of one ring. An index i < 0 names arc ^i (that is,
// -i-1) walked backwards. Each arc after the first starts where the one
// before ended, so its first point is dropped.
func stitch(arcs [][][2]float64, ring []int) ([][2]float64, error) {
	var points [][2]float64
	for k, index := range ring {
		reversed := index < 0
		if reversed {
			index = ^index
		}
		if index >= len(arcs) {
			return nil, fmt.Errorf("arc %d out of range: the topology has %d arcs", index, len(arcs))
		}
		arc := arcs[index]
		for j := range arc {
			if k > 0 && j == 0 {
				continue
			}
			if reversed {
				points = append(points, arc[len(arc)-1-j])
			} else {
				points = append(points, arc[j])
			}
		}
	}
	return points, nil
}

// writeRing appends one closed subpath in map coordinates, skipping points
// that round to the one before. A ring that rounds to fewer than three
// distinct points is too small to see and is dropped.
//
// Rings cut at the antimeridian step from x = 0 to x = 360 (longitude -180
// to 180) between neighbours. Drawn as they are, such steps would cross the
// whole map, so the ring is unwrapped into one continuous shape and drawn
// once more shifted by 360 for the part beyond the map's edge, which the
// SVG view box clips. A ring around a pole, such as Antarctica's, winds
// once around the map and is drawn as it is.
func writeRing(path *strings.Builder, points [][2]float64) {
	var projected [][2]int // tenths of a map unit
	for _, p := range points {
		q := [2]int{
			int(math.Round((p[0] + 180) * 10)),
			int(math.Round((90 - p[1]) * 10)),
		}
		if n := len(projected); n > 0 && projected[n-1] == q {
			continue
		}
		projected = append(projected, q)
	}
	if n := len(projected); n > 1 && projected[0] == projected[n-1] {
		projected = projected[:n-1]
	}
	if len(projected) < 3 {
		return
	}

	unwrapped, winding := unwrap(projected)
	if winding != 0 {
		writeSubpath(path, projected, 0)
		return
	}
	writeSubpath(path, unwrapped, 0)
	minX, maxX := unwrapped[0][0], unwrapped[0][0]
	for _, q := range unwrapped {
		minX, maxX = min(minX, q[0]), max(maxX, q[0])
	}
	if minX < 0 {
		writeSubpath(path, unwrapped, 3600)
	}
	if maxX > 3600 {
		writeSubpath(path, unwrapped, -3600)
	}
}

// unwrap moves each point by a multiple of 3600 tenths (360 degrees) so
// that no step between neighbours is longer than half the map, dropping a
// point that then repeats the one before. It returns the moved points and how many times the closed ring winds around the
// map: 0 for a ring that does not circle a pole.
func unwrap(points [][2]int) ([][2]int, int) {
	out := [][2]int{points[0]}
	shift := 0
	for i := 1; i < len(points); i++ {
		shift += wrapStep(points[i-1][0], points[i][0])
		q := [2]int{points[i][0] + shift, points[i][1]}
		// The points at longitude -180 and 180 of a cut ring meet here.
		if q != out[len(out)-1] {
			out = append(out, q)
		}
	}
	shift += wrapStep(points[len(points)-1][0], points[0][0])
	return out, shift / 3600
}

// wrapStep returns the shift, -3600, 0 or 3600, that keeps the step from x
// to next within half the map.
func wrapStep(x, next int) int {
	switch d := next - x; {
	case d > 1800:
		return -3600
	case d < -1800:
		return 3600
	}
	return 0
}

// writeSubpath appends points, moved right by dx, as one closed subpath.
func writeSubpath(path *strings.Builder, points [][2]int, dx int) {
	for i, q := range points {
		if i == 0 {
			path.WriteByte('M')
		} else {
			path.WriteByte('L')
		}
		path.WriteString(tenths(q[0] + dx))
		path.WriteByte(' ')
		path.WriteString(tenths(q[1]))
	}
	path.WriteByte('Z')
}

// tenths formats n/10 with at most one decimal.
func tenths(n int) string {
	s := strconv.FormatFloat(float64(n)/10, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0")
}

// geometryID returns the id member as text: world-atlas writes it as a
// string, other tools as a number.
func geometryID(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	return string(raw)
}
