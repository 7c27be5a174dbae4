//! Line charts for `bench` (throughput–latency curves, timelines) and the
//! geo evaluation: drawn with plotters as SVG, rasterised to PNG with resvg
//! and an embedded DejaVu font, so no system font or C library is needed
//! on the machine that draws them.

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
pub use plotters::prelude::SeriesLabelPosition;
use plotters::prelude::*;
use std::path::Path;

/// One line of a chart.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points, in x order.
    pub points: Vec<(f64, f64)>,
}

/// A panel: title, axis names, lines.
pub struct Panel {
    /// Shown above the panel.
    pub title: String,
    /// X axis label (with unit).
    pub x_label: String,
    /// Y axis label (with unit).
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// A horizontal reference line (1.0 on a speedup chart), if any.
    pub reference: Option<f64>,
    /// Names for x = 0, 1, 2…, when the x axis is categories (conflict
    /// rates that are not evenly spaced).
    pub x_names: Option<Vec<String>>,
    /// Cut the x axis here (a CDF's far tail would squash the rest).
    pub x_max: Option<f64>,
    /// Cut the y axis here: points above are drawn at the top edge (an
    /// overloaded open loop's seconds of queueing would squash the rest).
    pub y_max: Option<f64>,
    /// Where the legend goes.
    pub legend: SeriesLabelPosition,
    /// Vertical lines at these x values (a fault's time on a timeline).
    pub markers: Vec<f64>,
    /// A logarithmic y axis.
    pub log_y: bool,
}

const COLORS: [RGBColor; 8] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

/// Draws `panels` side by side under `caption` and writes a PNG.
pub fn write_png(path: &Path, caption: &str, panels: &[Panel], panel_size: (u32, u32)) -> Result<(), String> {
    let svg = draw_svg(caption, panels, panel_size).map_err(|e| format!("{}: drawing: {e}", path.display()))?;
    rasterise(&svg, path)
}

fn bounds(panel: &Panel) -> (f64, f64, f64, f64) {
    let points = || panel.series.iter().flat_map(|s| s.points.iter());
    let x_min = points().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x_max = points().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let y_max = points()
        .map(|p| p.1)
        .chain(panel.reference)
        .fold(f64::NEG_INFINITY, f64::max);
    let y_min = points()
        .map(|p| p.1)
        .chain(panel.reference)
        .fold(f64::INFINITY, f64::min);
    if !x_min.is_finite() {
        return (0.0, 1.0, 0.0, 1.0);
    }
    let y_max = panel.y_max.map_or(y_max, |cut| cut.min(y_max));
    let pad = ((y_max - y_min) * 0.08).max(0.05);
    let x_max = panel.x_max.map_or(x_max, |cut| cut.min(x_max));
    (x_min, x_max.max(x_min + 1e-9), (y_min - pad).max(0.0), y_max + pad)
}

fn draw_svg(caption: &str, panels: &[Panel], (w, h): (u32, u32)) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w * panels.len() as u32, h + 40)).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, body) = root.split_vertically(40);
        top.titled(caption, ("sans-serif", 22))?;
        for (area, panel) in body.split_evenly((1, panels.len())).iter().zip(panels) {
            let (x0, x1, y0, y1) = bounds(panel);
            let builder = || {
                let mut b = ChartBuilder::on(area);
                b.caption(&panel.title, ("sans-serif", 17))
                    .margin(12)
                    .x_label_area_size(44)
                    .y_label_area_size(58);
                b
            };
            if panel.log_y {
                // Latencies from tenths of a millisecond to seconds: a log
                // axis keeps both readable.
                let (lo, hi) = (y0.max(0.01), y1.max(0.02));
                let mut chart = builder().build_cartesian_2d(x0..x1, (lo..hi).log_scale())?;
                draw_panel(&mut chart, panel, (x0, x1, lo, hi)).map_err(Box::<dyn std::error::Error>::from)?;
            } else {
                let mut chart = builder().build_cartesian_2d(x0..x1, y0..y1)?;
                draw_panel(&mut chart, panel, (x0, x1, y0, y1)).map_err(Box::<dyn std::error::Error>::from)?;
            }
        }
        root.present()?;
    }
    Ok(svg)
}

/// Mesh, reference and marker lines, series and legend of one panel, on
/// a linear or a logarithmic y axis.
fn draw_panel<'a, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    panel: &Panel,
    (x0, x1, y0, y1): (f64, f64, f64, f64),
) -> Result<(), String>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let name_of = |x: &f64| match &panel.x_names {
        Some(names) if (x - x.round()).abs() < 1e-6 => names.get(x.round() as usize).cloned().unwrap_or_default(),
        Some(_) => String::new(),
        None => format!("{x}"),
    };
    let x_labels = panel.x_names.as_ref().map_or(10, Vec::len);
    chart
        .configure_mesh()
        .x_labels(x_labels)
        .x_label_formatter(&name_of)
        .x_desc(&panel.x_label)
        .y_desc(&panel.y_label)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(text)?;
    if let Some(y) = panel.reference {
        chart
            .draw_series(LineSeries::new(vec![(x0, y), (x1, y)], BLACK.mix(0.4).stroke_width(1)))
            .map_err(text)?;
    }
    for &x in &panel.markers {
        chart
            .draw_series(LineSeries::new(vec![(x, y0), (x, y1)], RED.mix(0.6).stroke_width(1)))
            .map_err(text)?;
    }
    for (i, series) in panel.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let visible: Vec<(f64, f64)> = series
            .points
            .iter()
            .copied()
            .filter(|p| p.0 <= x1)
            .map(|(x, y)| (x, y.clamp(y0, y1)))
            .collect();
        chart
            .draw_series(LineSeries::new(visible.iter().copied(), color.stroke_width(2)))
            .map_err(text)?
            .label(series.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        if series.points.len() <= 12 {
            chart
                .draw_series(visible.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(text)?;
        }
    }
    chart
        .configure_series_labels()
        .position(panel.legend.clone())
        .label_font(("sans-serif", 13))
        .border_style(BLACK.mix(0.5))
        .background_style(WHITE.mix(0.85))
        .draw()
        .map_err(text)?;
    Ok(())
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn rasterise(svg: &str, path: &Path) -> Result<(), String> {
    let mut options = resvg::usvg::Options::default();
    options.fontdb_mut().load_font_data(dejavu::sans::regular().to_vec());
    options.fontdb_mut().set_sans_serif_family("DejaVu Sans");
    options.font_family = "DejaVu Sans".into();
    let tree = resvg::usvg::Tree::from_str(svg, &options).map_err(|e| format!("{}: {e}", path.display()))?;
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| format!("{}: empty image", path.display()))?;
    resvg::render(&tree, resvg::tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap.save_png(path).map_err(|e| format!("{}: {e}", path.display()))
}
