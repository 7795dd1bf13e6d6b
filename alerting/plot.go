package alerting

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/color"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/harrierhq/harrier/storage"
)

// PlotFeatures are the columns of the features table that an alert plot
// draws, one panel each, in this order.
var PlotFeatures = []string{"cpu_cores", "cpu_throttled_ratio", "memory_working_set_bytes", "log_lines", "error_lines", "new_shapes"}

// PlotDPI is the resolution of alert plots, so that a plot of width
// PlotWidth inches at this DPI is PlotWidth*PlotDPI pixels wide.
const PlotDPI = 96

// PlotData is the content of an alert plot: the alert's window and the
// feature and score series of its container around it.
type PlotData struct {
	AlertID, Name, Source, ContainerID, ContainerName string
	// WindowStart and WindowEnd bound the window the alert fired on.
	WindowStart, WindowEnd time.Time
	// From and To bound the time drawn. Zero values draw the range of the
	// series.
	From, To time.Time
	// Times are the feature window starts, and Features[name][i] the value
	// of a feature in window Times[i].
	Times    []time.Time
	Features map[string][]float64
	// ScoreTimes, Scores and Thresholds are the scores of the container's
	// windows.
	ScoreTimes []time.Time
	Scores     []float64
	Thresholds []float64
}

// alertPlotQuery selects one alert and its details, if stored.
func alertPlotQuery(alertID string) string {
	return fmt.Sprintf(`SELECT
    name, source, container_id, container_name, event_ns, threshold,
    window_start, window_end
FROM
(
    SELECT alert_id, name, source, container_id, container_name, event_ns, threshold
    FROM alerts
    WHERE alert_id = %s
    LIMIT 1
) AS a
ANY LEFT JOIN
(
    SELECT alert_id, window_start, window_end
    FROM alert_details
    WHERE alert_id = %s
) AS d
USING alert_id`, quoteString(alertID), quoteString(alertID))
}

// featureSeriesQuery selects the feature windows of a container in
// [from, to].
func featureSeriesQuery(containerID string, from, to time.Time) string {
	return fmt.Sprintf(`SELECT window_start, %s
FROM features FINAL
WHERE container_id = %s AND window_start >= toDateTime(%d) AND window_start <= toDateTime(%d)
ORDER BY window_start`, strings.Join(PlotFeatures, ", "), quoteString(containerID), from.Unix(), to.Unix())
}

// scoreSeriesQuery selects the highest score of each window of a container
// in [from, to], over the models, or of one model when model is set.
func scoreSeriesQuery(containerID, model string, from, to time.Time) string {
	modelFilter := ""
	if model != "" {
		modelFilter = " AND model = " + quoteString(model)
	}
	return fmt.Sprintf(`SELECT window_start, max(score) AS max_score, max(threshold) AS max_threshold
FROM scores FINAL
WHERE container_id = %s AND window_start >= toDateTime(%d) AND window_start <= toDateTime(%d)%s
GROUP BY window_start
ORDER BY window_start`, quoteString(containerID), from.Unix(), to.Unix(), modelFilter)
}

// plotQueries returns the queries of LoadPlotData with sample values.
func plotQueries(sampleContainerID string) []string {
	from, to := queriesSampleTime.Add(-time.Hour), queriesSampleTime
	return []string{
		alertPlotQuery("sample-alert-id"),
		featureSeriesQuery(sampleContainerID, from, to),
		scoreSeriesQuery(sampleContainerID, "isolation-forest", from, to),
		scoreSeriesQuery(sampleContainerID, "", from, to),
	}
}

// ErrAlertNotFound is returned by LoadPlotData for an unknown alert id.
var ErrAlertNotFound = errors.New("alert not found")

// LoadPlotData reads the alert alertID and the feature and score series of
// its container from margin before its window to margin after it. An
// alert stored without details gets the window from its event time to one
// DefaultModelWindow later.
func LoadPlotData(ctx context.Context, store *storage.Store, alertID string, margin time.Duration) (PlotData, error) {
	_, rows, err := store.Query(ctx, alertPlotQuery(alertID))
	if err != nil {
		return PlotData{}, fmt.Errorf("read alert %s: %w", alertID, err)
	}
	if len(rows) == 0 {
		return PlotData{}, fmt.Errorf("%w: no alert with id %q. List the ids with harrier sql \"SELECT alert_id, name, container_name FROM alerts\"", ErrAlertNotFound, alertID)
	}
	row := rows[0]
	d := PlotData{
		AlertID: alertID, Name: toString(row[0]), Source: toString(row[1]),
		ContainerID: toString(row[2]), ContainerName: toString(row[3]),
		Features: make(map[string][]float64),
	}
	if d.ContainerID == "" {
		return PlotData{}, fmt.Errorf("invalid alert %s: it has no container, so there are no feature series to plot", alertID)
	}
	eventNs, _ := row[4].(int64)
	d.WindowStart, _ = row[6].(time.Time)
	d.WindowEnd, _ = row[7].(time.Time)
	if d.WindowStart.Unix() <= 0 {
		d.WindowStart = time.Unix(0, eventNs).UTC()
		d.WindowEnd = d.WindowStart.Add(DefaultModelWindow)
	}

	from, to := d.WindowStart.Add(-margin), d.WindowEnd.Add(margin)
	d.From, d.To = from, to
	_, rows, err = store.Query(ctx, featureSeriesQuery(d.ContainerID, from, to))
	if err != nil {
		return PlotData{}, fmt.Errorf("read features of container %s: %w", d.ContainerID, err)
	}
	for _, r := range rows {
		at, _ := r[0].(time.Time)
		d.Times = append(d.Times, at)
		for i, name := range PlotFeatures {
			v, _ := r[i+1].(float64)
			d.Features[name] = append(d.Features[name], v)
		}
	}

	model := ""
	if d.Source == "model" {
		model = d.Name
	}
	_, rows, err = store.Query(ctx, scoreSeriesQuery(d.ContainerID, model, from, to))
	if err != nil {
		return PlotData{}, fmt.Errorf("read scores of container %s: %w", d.ContainerID, err)
	}
	for _, r := range rows {
		at, _ := r[0].(time.Time)
		score, _ := r[1].(float64)
		threshold, _ := r[2].(float64)
		d.ScoreTimes = append(d.ScoreTimes, at)
		d.Scores = append(d.Scores, score)
		d.Thresholds = append(d.Thresholds, threshold)
	}
	if len(d.Times) == 0 && len(d.ScoreTimes) == 0 {
		return PlotData{}, fmt.Errorf("no features or scores of container %s from %s to %s: widen the margin or check that the scorer ran", d.ContainerID, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return d, nil
}

var (
	windowColor    = color.RGBA{R: 230, G: 80, B: 60, A: 255}
	seriesColor    = color.RGBA{R: 40, G: 90, B: 170, A: 255}
	thresholdColor = color.RGBA{R: 200, G: 30, B: 30, A: 255}
)

// RenderPlot draws one panel per feature and a panel of the scores with
// the threshold line, stacked, each marking the alert's window with two
// vertical lines, and returns the PNG. widthPx and heightPx are the image
// size in pixels. The x axis is seconds relative to the window start.
func RenderPlot(d PlotData, widthPx, heightPx int) ([]byte, error) {
	if widthPx < 200 || heightPx < 200 || widthPx > 10000 || heightPx > 10000 {
		return nil, fmt.Errorf("invalid plot size %dx%d: expected 200 to 10000 pixels each way", widthPx, heightPx)
	}
	origin := d.WindowStart
	windowEnd := d.WindowEnd.Sub(origin).Seconds()
	var panels []*plot.Plot

	for _, name := range PlotFeatures {
		p, err := seriesPanel(name, d.Times, d.Features[name], origin, windowEnd)
		if err != nil {
			return nil, err
		}
		panels = append(panels, p)
	}
	scorePanel, err := seriesPanel("score", d.ScoreTimes, d.Scores, origin, windowEnd)
	if err != nil {
		return nil, err
	}
	if len(d.Thresholds) > 0 {
		threshold, err := plotter.NewLine(pointsOf(d.ScoreTimes, d.Thresholds, origin))
		if err != nil {
			return nil, fmt.Errorf("plot threshold: %w", err)
		}
		threshold.Color = thresholdColor
		threshold.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		scorePanel.Add(threshold)
		scorePanel.Legend.Add("threshold", threshold)
		scorePanel.Legend.Top = true
	}
	scorePanel.X.Label.Text = fmt.Sprintf("seconds from %s (alert window start)", origin.UTC().Format("2006-01-02 15:04:05 UTC"))
	panels[0].Title.Text = fmt.Sprintf("%s %s, container %s", d.Source, d.Name, firstNonEmpty(d.ContainerName, shortID(d.ContainerID)))
	panels = append(panels, scorePanel)
	if !d.From.IsZero() && d.To.After(d.From) {
		// The same x range on every panel lines the series up.
		for _, p := range panels {
			p.X.Min, p.X.Max = d.From.Sub(origin).Seconds(), d.To.Sub(origin).Seconds()
		}
	}

	dpi := vg.Length(PlotDPI)
	canvas := vgimg.NewWith(vgimg.UseWH(vg.Length(widthPx)*vg.Inch/dpi, vg.Length(heightPx)*vg.Inch/dpi), vgimg.UseDPI(PlotDPI))
	dc := draw.New(canvas)
	grid := make([][]*plot.Plot, len(panels))
	for i, p := range panels {
		grid[i] = []*plot.Plot{p}
	}
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(2)}
	canvases := plot.Align(grid, tiles, dc)
	for i, p := range panels {
		p.Draw(canvases[i][0])
	}

	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: canvas}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode plot as PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// seriesPanel draws one series against seconds from origin, with the
// alert window [0, windowEnd] marked.
func seriesPanel(name string, times []time.Time, values []float64, origin time.Time, windowEnd float64) (*plot.Plot, error) {
	p := plot.New()
	p.Y.Label.Text = name
	p.Add(plotter.NewGrid())
	if len(times) > 0 {
		line, err := plotter.NewLine(pointsOf(times, values, origin))
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", name, err)
		}
		line.Color = seriesColor
		p.Add(line)
	}

	lo, hi := 0.0, 0.0
	for _, v := range values {
		lo, hi = min(lo, v), max(hi, v)
	}
	if hi == lo {
		hi = lo + 1
	}
	for _, x := range []float64{0, windowEnd} {
		marker, err := plotter.NewLine(plotter.XYs{{X: x, Y: lo}, {X: x, Y: hi}})
		if err != nil {
			return nil, fmt.Errorf("plot window of %s: %w", name, err)
		}
		marker.Color = windowColor
		p.Add(marker)
	}
	return p, nil
}

func pointsOf(times []time.Time, values []float64, origin time.Time) plotter.XYs {
	points := make(plotter.XYs, len(times))
	for i, at := range times {
		points[i] = plotter.XY{X: at.Sub(origin).Seconds(), Y: values[i]}
	}
	return points
}
