package bench

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
)

// Series is one system's line on a chart.
type Series struct {
	Label  string
	Points []Point
}

// Point is a rate at a concurrency.
type Point struct {
	C    int
	Rate float64
}

var palette = []string{"#d62728", "#ff7f0e", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b",
	"#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"}

// WriteChart writes a line chart of rate against C as SVG: the C axis on a
// log scale (16, 64, 256 evenly apart), the rate axis from 0, one polyline
// (with a dot per point) per series, and a legend.
func WriteChart(w io.Writer, title, unit string, series []Series) error {
	const (
		width, height = 860, 440
		left, right   = 80, 250 // margins; the legend sits in the right one
		top, bottom   = 40, 60
	)
	plotW, plotH := float64(width-left-right), float64(height-top-bottom)

	cset := map[int]bool{}
	maxRate := 0.0
	for _, s := range series {
		for _, p := range s.Points {
			cset[p.C] = true
			maxRate = math.Max(maxRate, p.Rate)
		}
	}
	cs := make([]int, 0, len(cset))
	for c := range cset {
		cs = append(cs, c)
	}
	sort.Ints(cs)
	yMax, step := niceScale(maxRate)
	xOf := func(c int) float64 {
		if len(cs) < 2 {
			return float64(left) + plotW/2
		}
		lo, hi := math.Log(float64(cs[0])), math.Log(float64(cs[len(cs)-1]))
		return float64(left) + (math.Log(float64(c))-lo)/(hi-lo)*plotW
	}
	yOf := func(v float64) float64 { return float64(top) + plotH - v/yMax*plotH }

	var b bytes.Buffer
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	p(`<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", left, esc(title))
	// Grid and rate axis.
	for v := 0.0; v <= yMax+step/2; v += step {
		y := yOf(v)
		p(`<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, float64(left)+plotW, y)
		p(`<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, esc(short(v)))
	}
	p(`<text x="16" y="%.1f" transform="rotate(-90 16 %.1f)" text-anchor="middle">%s</text>`+"\n", float64(top)+plotH/2, float64(top)+plotH/2, esc(unit))
	// C axis.
	p(`<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", left, float64(top)+plotH, float64(left)+plotW, float64(top)+plotH)
	p(`<line x1="%d" y1="%d" x2="%d" y2="%.1f" stroke="black"/>`+"\n", left, top, left, float64(top)+plotH)
	for _, c := range cs {
		x := xOf(c)
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", x, float64(top)+plotH, x, float64(top)+plotH+5)
		p(`<text x="%.1f" y="%.1f" text-anchor="middle">%d</text>`+"\n", x, float64(top)+plotH+20, c)
	}
	p(`<text x="%.1f" y="%d" text-anchor="middle">C (concurrent clients or workers)</text>`+"\n", float64(left)+plotW/2, height-14)
	// Lines and legend.
	for i, s := range series {
		color := palette[i%len(palette)]
		pts := append([]Point(nil), s.Points...)
		sort.Slice(pts, func(a, b int) bool { return pts[a].C < pts[b].C })
		var coords bytes.Buffer
		for j, pt := range pts {
			if j > 0 {
				coords.WriteByte(' ')
			}
			fmt.Fprintf(&coords, "%.1f,%.1f", xOf(pt.C), yOf(pt.Rate))
		}
		p(`<polyline fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s</title></polyline>`+"\n", color, coords.String(), esc(s.Label))
		for _, pt := range pts {
			p(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", xOf(pt.C), yOf(pt.Rate), color)
		}
		ly := top + 10 + i*20
		lx := width - right + 20
		p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", lx, ly, lx+24, ly, color)
		p(`<text x="%d" y="%d">%s</text>`+"\n", lx+30, ly+4, esc(s.Label))
	}
	p("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// niceScale rounds max up to a round top with 4 to 8 steps.
func niceScale(max float64) (top, step float64) {
	if max <= 0 {
		return 1, 0.25
	}
	raw := max / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		step = m * mag
		if step >= raw {
			break
		}
	}
	return math.Ceil(max/step) * step, step
}

// short writes 12000 as 12k and 1500000 as 1.5M.
func short(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	default:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
}

func esc(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// ChartSeries gathers, for one workload, each system's rate at each C.
func ChartSeries(results []Result, workload string) []Series {
	by := map[string]*Series{}
	var out []*Series
	for _, l := range systemOrder(results) {
		s := &Series{Label: l}
		by[l] = s
		out = append(out, s)
	}
	for _, r := range results {
		if r.Workload == workload && r.Error == "" && r.Rate > 0 {
			by[r.Label()].Points = append(by[r.Label()].Points, Point{C: r.C, Rate: r.Rate})
		}
	}
	var list []Series
	for _, s := range out {
		if len(s.Points) > 0 {
			list = append(list, *s)
		}
	}
	return list
}
