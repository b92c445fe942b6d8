//! The SVG chart: round-trip latency (p50) and throughput by mechanism and
//! message size, both on log-log axes.

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

use crate::mechs::Role;
use crate::report::{Report, Scenario};
use crate::stats::format_size;

/// Writes the report's chart as an SVG file: latency on the left, throughput
/// on the right, one line per mechanism (the physical limits drawn in black).
///
/// # Errors
/// When the file cannot be written or the report has no numbers to draw.
pub fn write_svg(report: &Report, path: &Path) -> anyhow::Result<()> {
    let svg = render_svg(report)?;
    std::fs::write(path, svg).with_context(|| format!("writing the chart to {}", path.display()))
}

type Series = Vec<(String, bool, Vec<(f64, f64)>)>;

fn series(report: &Report, scenario: Scenario) -> Series {
    let mut out: Series = Vec::new();
    for e in report
        .entries
        .iter()
        .filter(|e| e.role != Role::Raw && e.scenario == scenario)
    {
        let v = match scenario {
            Scenario::Latency => e.latency.map(|l| l.p50_ns as f64 / 1e3),
            Scenario::Throughput => e.throughput.map(|t| t.bytes_per_sec / (1u64 << 20) as f64),
        };
        let Some(v) = v.filter(|v| *v > 0.0) else {
            continue;
        };
        match out.iter_mut().find(|s| s.0 == e.mechanism) {
            Some(s) => s.2.push((e.size as f64, v)),
            None => out.push((
                e.mechanism.clone(),
                e.role == Role::Limit,
                vec![(e.size as f64, v)],
            )),
        }
    }
    for s in &mut out {
        s.2.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

fn bounds(series: &Series) -> Option<(f64, f64, f64, f64)> {
    let pts = series.iter().flat_map(|s| s.2.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    let mut any = false;
    for &(x, y) in pts {
        any = true;
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    any.then(|| (x0 / 1.5, x1 * 1.5, y0 / 2.0, y1 * 2.0))
}

/// Dark, distinct line colours (Tableau 10 and six more), so that every
/// mechanism stays readable on white.
const PALETTE: [(u8, u8, u8); 16] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (0, 0, 128),
    (128, 0, 0),
    (0, 128, 128),
    (128, 128, 0),
    (75, 0, 130),
    (255, 20, 147),
];

/// An axis label with as many decimals as its magnitude needs.
fn tick(y: f64) -> String {
    if y >= 10.0 {
        format!("{y:.0}")
    } else if y >= 1.0 {
        format!("{y:.1}")
    } else {
        format!("{y:.2}")
    }
}

/// Renders the chart to an SVG document.
pub(crate) fn render_svg(report: &Report) -> anyhow::Result<String> {
    let lat = series(report, Scenario::Latency);
    let thr = series(report, Scenario::Throughput);
    if lat.is_empty() && thr.is_empty() {
        anyhow::bail!("nothing was measured, so there is nothing to draw");
    }
    // Colours go to the mechanisms only; the limits are drawn in black.
    let mut names: Vec<String> = lat
        .iter()
        .chain(&thr)
        .filter(|s| !s.1)
        .map(|s| s.0.clone())
        .collect();
    names.dedup();
    let mut unique: Vec<String> = Vec::new();
    for n in names {
        if !unique.contains(&n) {
            unique.push(n);
        }
    }
    let color = |name: &str, limit: bool| -> RGBColor {
        if limit {
            return BLACK;
        }
        let i = unique.iter().position(|n| n == name).unwrap_or(0);
        let (r, g, b) = PALETTE[i % PALETTE.len()];
        RGBColor(r, g, b)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1400, 700)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let title = format!(
            "ipcx bench — {} ({})",
            report.machine.pinning_note,
            report.parameters.budget_text()
        );
        let root = root
            .titled(&title, ("sans-serif", 20))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let (left, right) = root.split_horizontally(700);
        let panels = [
            (left, &lat, "Round-trip latency p50 (µs, log)", true),
            (right, &thr, "One-way throughput (MiB/s, log)", false),
        ];
        for (area, data, caption, legend_left) in panels {
            let Some((x0, x1, y0, y1)) = bounds(data) else {
                continue;
            };
            let mut chart = ChartBuilder::on(&area)
                .caption(caption, ("sans-serif", 16))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            chart
                .configure_mesh()
                .x_desc("message size")
                .x_label_formatter(&|x| format_size(x.round() as usize))
                .y_label_formatter(&|y| tick(*y))
                .draw()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            for (name, limit, pts) in data.iter() {
                let c = color(name, *limit);
                let style = ShapeStyle {
                    color: c.to_rgba(),
                    filled: true,
                    stroke_width: if *limit { 3 } else { 2 },
                };
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), style))
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?
                    .label(name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, style)))
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            }
            chart
                .configure_series_labels()
                .position(if legend_left {
                    SeriesLabelPosition::UpperLeft
                } else {
                    SeriesLabelPosition::UpperRight
                })
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 11))
                .draw()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        root.present().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_labels_have_sensible_decimals() {
        assert_eq!(tick(2000.0), "2000");
        assert_eq!(tick(10.0), "10");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(0.5), "0.50");
    }

    #[test]
    fn chart_names_every_visible_mechanism() {
        let r = crate::report::tests::sample();
        let svg = render_svg(&r).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
        for id in ["limit-spin", "limit-memcpy", "fifo", "sysvshm", "sysvmq"] {
            assert!(svg.contains(id), "{id} missing from the chart");
        }
        assert!(!svg.contains("raw-fifo"), "raw baselines are not drawn");
    }
}
