//! Charts as standalone SVG: lines of accuracy (`plastic compare`'s accuracy per epoch,
//! `plastic viz frames`' accuracy over a device's frames) and bars of costs (`plastic
//! compare`'s train time, checkpoint size and int8 accuracy per model).
//!
//! Written by hand: a few polylines need no plotting library (and no fonts at build time).

use std::fmt::Write as _;

/// One line: a name for the legend and a value per point (`None`: no measurement there; the
/// line skips it).
pub type Curve<'a> = (&'a str, Vec<Option<f64>>);

/// What the chart shows besides its curves.
#[derive(Debug, Clone, Default)]
pub struct Axes<'a> {
    /// Caption of the x axis.
    pub x_label: &'a str,
    /// Points (as 0-based indices, end exclusive) to shade, e.g. where a camera was shifted.
    pub band: Option<(f64, f64)>,
    /// Caption of the shaded band.
    pub band_label: &'a str,
}

/// One colour per curve or bar, distinct for as many as the comparison has models.
pub(crate) const COLOURS: [&str; 10] = [
    "#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22",
];

/// One panel of a bar chart: a title, and a value with its printed label per model.
pub type Panel<'a> = (&'a str, Vec<(f64, String)>);

/// Horizontal bars, one panel per measure side by side, one row per name (`names` in the
/// panels' order); each panel scales its bars to its own largest value.
pub fn bar_chart(names: &[&str], panels: &[Panel<'_>]) -> String {
    let (label_w, panel_w, row_h, top) = (110.0, 220.0, 24.0, 30.0);
    let w = label_w + panel_w * panels.len() as f64 + 10.0;
    let h = top + row_h * names.len() as f64 + 10.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for (i, name) in names.iter().enumerate() {
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{name}</text>",
            label_w - 8.0,
            top + row_h * i as f64 + 16.0
        );
    }
    for (p, (title, values)) in panels.iter().enumerate() {
        let x0 = label_w + panel_w * p as f64;
        let _ = writeln!(
            svg,
            "<text x=\"{x0}\" y=\"18\" font-weight=\"bold\">{title}</text>"
        );
        let max = values.iter().map(|(v, _)| *v).fold(0.0f64, f64::max);
        for (i, (value, label)) in values.iter().enumerate() {
            let len = if max > 0.0 { 120.0 * value / max } else { 0.0 };
            let y = top + row_h * i as f64 + 4.0;
            let _ = writeln!(
                svg,
                "<rect x=\"{x0}\" y=\"{y:.1}\" width=\"{len:.1}\" height=\"16\" fill=\"{}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{label}</text>",
                COLOURS[i % COLOURS.len()],
                x0 + len + 4.0,
                y + 12.0
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// Draws `curves` on a 0..100 % scale whose floor is the lowest value rounded down to 5 %
/// (at most 90 %, so close curves stay apart).
pub fn accuracy_chart(curves: &[Curve<'_>], axes: &Axes<'_>) -> String {
    let (w, h, left, right, top, bottom) = (640.0, 400.0, 60.0, 170.0, 20.0, 40.0);
    let points = curves
        .iter()
        .map(|(_, c)| c.len())
        .max()
        .unwrap_or(1)
        .max(2);
    let lo = curves
        .iter()
        .flat_map(|(_, c)| c.iter().flatten().copied())
        .fold(1.0f64, f64::min)
        .min(0.9);
    let lo = (lo * 20.0).floor() / 20.0;
    let x = |i: f64| left + (w - left - right) * i / (points - 1) as f64;
    let y = |a: f64| top + (h - top - bottom) * (1.0 - (a - lo) / (1.0 - lo));
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    if let Some((start, end)) = axes.band {
        let (x0, x1) = (x(start.max(0.0)), x((end - 1.0).min((points - 1) as f64)));
        let _ = writeln!(
            svg,
            "<rect x=\"{x0:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"{}\" fill=\"#f3ecd8\"/>\
             <text x=\"{:.1}\" y=\"{}\" fill=\"#8a6d1f\">{}</text>",
            (x1 - x0).max(0.0),
            h - top - bottom,
            x0 + 4.0,
            top + 14.0,
            axes.band_label
        );
    }
    let mut tick = lo;
    while tick <= 1.0 + 1e-9 {
        let _ = writeln!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{:.0} %</text>",
            w - right,
            left - 6.0,
            y(tick) + 4.0,
            tick * 100.0,
            y = y(tick)
        );
        tick += 0.05;
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        (left + w - right) / 2.0,
        h - 10.0,
        axes.x_label
    );
    for (i, (name, curve)) in curves.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let line: Vec<String> = curve
            .iter()
            .enumerate()
            .filter_map(|(e, a)| a.map(|a| format!("{:.1},{:.1}", x(e as f64), y(a))))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\n\
             <text x=\"{}\" y=\"{}\" fill=\"{colour}\">{name}</text>",
            line.join(" "),
            w - right + 10.0,
            top + 16.0 * (i + 1) as f64
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_of_the_comparison_gets_its_own_colour() {
        let models = plastic_trainer::experiment::MODELS;
        assert!(COLOURS.len() >= models.len());
        let mut distinct = COLOURS.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), COLOURS.len());
    }

    #[test]
    fn bars_scale_to_each_panels_largest_value() {
        let svg = bar_chart(
            &["a", "b"],
            &[
                ("time", vec![(10.0, "10 s".into()), (5.0, "5 s".into())]),
                ("size", vec![(1.0, "1 MB".into()), (4.0, "4 MB".into())]),
            ],
        );
        assert_eq!(svg.matches("<rect x=").count(), 4);
        // a's time and b's size are their panels' largest: full length; the others in scale.
        assert_eq!(svg.matches("width=\"120.0\"").count(), 2, "{svg}");
        assert!(svg.contains("width=\"60.0\"") && svg.contains("width=\"30.0\""));
        assert!(svg.contains(">time</text>") && svg.contains(">4 MB</text>"));
    }

    #[test]
    fn chart_has_one_line_per_curve_a_legend_and_the_band() {
        let axes = Axes {
            x_label: "epoch",
            band: Some((1.0, 3.0)),
            band_label: "shifted",
        };
        let svg = accuracy_chart(
            &[
                ("a", vec![Some(0.9), Some(0.95), Some(0.97)]),
                ("b", vec![Some(0.8), None, Some(0.9)]),
            ],
            &axes,
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains(">a</text>") && svg.contains(">b</text>"));
        assert!(svg.contains(">epoch</text>") && svg.contains(">shifted</text>"));
        // The lowest value sets the floor of the axis: 80 % is drawn.
        assert!(svg.contains(">80 %</text>"), "{svg}");
        // The missing point is skipped: curve b has two points.
        let b = svg.split("<polyline").nth(2).unwrap();
        let points = b
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(points.split(' ').count(), 2, "{points}");
    }
}
