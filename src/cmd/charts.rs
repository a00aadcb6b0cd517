//! Standalone SVG charts for run reports, written by hand (no plotting dependency).
//!
//! Two pure functions, each returning a complete SVG document (900×500, white background,
//! title, gridlines, tick labels, a legend with one colour per series, one `<polyline>` per
//! non-empty series):
//!
//! - [`equity_svg`]: each strategy's equity curve; x is event time (labelled `HH:MM` time of
//!   day, `HH:MM:SS` for spans under a few minutes; `d2 HH:MM` on a run's second trading day), y is equity in dollars on "nice"
//!   1/2/5 × 10^k steps, with a darker line at $0 when the axis crosses zero.
//! - [`latency_svg`]: a latency percentile distribution in the HdrHistogram style; x is the
//!   percentile on a log scale of 1/(1-p) (labels `0%`, `90%`, `99%`, `99.9%`, …), y is the
//!   latency on a log scale labelled in ns/µs/ms/s.
//!
//! The output is deterministic (same input, same bytes) and compact: coordinates carry one
//! decimal, and series longer than [`MAX_POINTS`] are downsampled, keeping the first and last
//! points and the minimum and maximum of every bucket so that spikes survive. Degenerate input
//! (no series, one point, all-equal values, negative equity, percentile 1.0, latency 0,
//! non-finite values) draws a sane chart and never writes `NaN` or `inf`.

use std::fmt::Write as _;

/// Document width, px.
const W: f64 = 900.0;
/// Document height, px.
const H: f64 = 500.0;
/// Plot area: left edge, px.
const LEFT: f64 = 90.0;
/// Plot area: right edge, px (the legend sits to its right).
const RIGHT: f64 = 710.0;
/// Plot area: top edge, px.
const TOP: f64 = 50.0;
/// Plot area: bottom edge, px.
const BOTTOM: f64 = 440.0;
/// Left edge of the legend, px.
const LEGEND_X: f64 = 725.0;
/// Height of one legend entry, px.
const LEGEND_ROW: f64 = 18.0;
/// Longest legend label, in characters (the polyline's `<title>` carries the full name).
const LEGEND_CHARS: usize = 22;
/// Series longer than this are downsampled to at most this many points.
pub const MAX_POINTS: usize = 2000;
/// Largest 1/(1-p) on the percentile axis (p = 99.9999%); p = 1.0 is drawn there.
const MAX_INV_TAIL: f64 = 1e6;
/// Equity values are clamped to ±this so that axis arithmetic stays finite.
const MAX_ABS_DOLLARS: f64 = 1e15;
/// A day of event time, ns: the equity chart draws a later trading day's times a whole day
/// on per day (labelled `d2 09:30`).
pub const DAY_NS: u64 = 86_400_000_000_000;
/// Upper bound on ticks per axis, whatever the input.
const MAX_TICKS: usize = 64;

/// Series colours, cycled (Tableau 10, minus grey and olive).
const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// An equity-curve chart: one line per strategy, x = event time, y = equity in dollars.
///
/// `series` is `(name, [(ts_ns since midnight, equity_dollars)])` (a later trading day's
/// times a whole [`DAY_NS`] on per day, labelled `d2 HH:MM`); points need not be sorted
/// (they are sorted by time), non-finite equity values are dropped.
pub fn equity_svg(series: &[(String, Vec<(u64, f64)>)]) -> String {
    let cleaned: Vec<Vec<(u64, f64)>> = series
        .iter()
        .map(|(_, pts)| {
            let mut v: Vec<(u64, f64)> = pts
                .iter()
                .filter(|p| p.1.is_finite())
                .map(|&(t, e)| (t, e.clamp(-MAX_ABS_DOLLARS, MAX_ABS_DOLLARS)))
                .collect();
            v.sort_by_key(|p| p.0);
            downsample(&v, |p| p.1)
        })
        .collect();
    let all = || cleaned.iter().flatten();
    let has_data = all().next().is_some();

    // x: the data's time span, padded when it is a single instant.
    let (mut t0, mut t1) = match (all().map(|p| p.0).min(), all().map(|p| p.0).max()) {
        (Some(a), Some(b)) => (a, b),
        _ => (0, 3_600_000_000_000),
    };
    if t0 == t1 {
        t0 = t0.saturating_sub(30_000_000_000);
        t1 = t1.saturating_add(30_000_000_000);
    }
    let span = (t1 - t0) as f64;
    let px = |t: u64| LEFT + (t.saturating_sub(t0)) as f64 / span * (RIGHT - LEFT);

    // y: nice steps covering min..max.
    let (mut y0, mut y1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    if !has_data {
        (y0, y1) = (0.0, 1.0);
    }
    if y1 - y0 < 1e-9 {
        let pad = (y0.abs() * 0.05).max(1.0);
        (y0, y1) = (y0 - pad, y1 + pad);
    }
    let step = nice_step(y1 - y0, 6.0);
    let lo = snap((y0 / step).floor() * step, step);
    let hi = snap((y1 / step).ceil() * step, step);
    let hi = if hi > lo { hi } else { lo + step };
    let py = |v: f64| BOTTOM - (v - lo) / (hi - lo) * (BOTTOM - TOP);

    let scale = dollar_scale(lo.abs().max(hi.abs()));
    let mut y_ticks = Vec::new();
    for i in 0..MAX_TICKS {
        let v = snap(lo + i as f64 * step, step);
        if v > hi + step * 1e-6 {
            break;
        }
        y_ticks.push(Tick {
            pos: py(v),
            label: Some(fmt_dollars(v, step, scale)),
        });
    }

    let x_ticks = time_ticks(t0, t1)
        .into_iter()
        .map(|(t, label)| Tick {
            pos: px(t),
            label: Some(label),
        })
        .collect::<Vec<_>>();

    let lines = cleaned
        .iter()
        .map(|pts| pts.iter().map(|&(t, v)| (px(t), py(v))).collect())
        .collect::<Vec<Vec<(f64, f64)>>>();

    render(&Chart {
        title: "Equity curve",
        x_title: "time of day (event time)",
        y_title: "equity ($)",
        x_ticks,
        y_ticks,
        y_minor: Vec::new(),
        zero_y: (lo < 0.0 && hi > 0.0).then(|| py(0.0)),
        names: series.iter().map(|s| s.0.as_str()).collect(),
        lines,
        has_data,
    })
}

/// A latency percentile-distribution chart in the HdrHistogram style: x = percentile on a log
/// scale of 1/(1-p) (labels 0%, 90%, 99%, 99.9%, 99.99%, 99.999%), y = latency on a log scale
/// (ns, labelled with ns/µs/ms units); one line per hop.
///
/// `series` is `(hop name, [(percentile in [0,1], value_ns)])`; percentiles are clamped to
/// [0, 1] (1.0 is drawn at 99.9999%), NaN percentiles are dropped, 0 ns is drawn as 1 ns.
pub fn latency_svg(series: &[(String, Vec<(f64, u64)>)]) -> String {
    let cleaned: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|(_, pts)| {
            let mut v: Vec<(f64, f64)> = pts
                .iter()
                .filter(|p| !p.0.is_nan())
                .map(|&(p, ns)| (inv_tail(p).log10(), (ns.max(1) as f64).log10()))
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            downsample(&v, |p| p.1)
        })
        .collect();
    let all = || cleaned.iter().flatten();
    let has_data = all().next().is_some();

    // x: decades of 1/(1-p); always at least up to 99.999%.
    let x_max = all().map(|p| p.0).fold(0.0, f64::max);
    let decades = if x_max > 5.0 + 1e-6 { 6 } else { 5 };
    let px = |d: f64| LEFT + d / f64::from(decades) * (RIGHT - LEFT);
    let x_ticks = (0..=decades)
        .map(|k| Tick {
            pos: px(f64::from(k)),
            label: Some(percent_label(k)),
        })
        .collect::<Vec<_>>();

    // y: whole decades covering min..max.
    let (mut k0, mut k1) = if has_data {
        let lo = all().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = all().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        ((lo + 1e-9).floor() as i32, (hi - 1e-9).ceil() as i32)
    } else {
        (2, 6)
    };
    k0 = k0.max(0);
    if k1 <= k0 {
        k1 = k0 + 1;
    }
    let (lo, hi) = (f64::from(k0), f64::from(k1));
    let py = |l: f64| BOTTOM - (l - lo) / (hi - lo) * (BOTTOM - TOP);
    // Label 1/2/5 × 10^k on short spans, only 10^k on long ones; the rest are minor lines.
    let labelled: &[u32] = if k1 - k0 <= 2 { &[1, 2, 5] } else { &[1] };
    let mut y_ticks = Vec::new();
    let mut y_minor = Vec::new();
    for k in k0..=k1 {
        for m in 1..=9u32 {
            if k == k1 && m > 1 {
                break;
            }
            let v = f64::from(m) * 10f64.powi(k);
            let pos = py(v.log10());
            if labelled.contains(&m) {
                y_ticks.push(Tick {
                    pos,
                    label: Some(fmt_ns(v)),
                });
            } else {
                y_minor.push(pos);
            }
        }
    }

    let lines = cleaned
        .iter()
        .map(|pts| pts.iter().map(|&(x, l)| (px(x), py(l))).collect())
        .collect::<Vec<Vec<(f64, f64)>>>();

    render(&Chart {
        title: "Latency by percentile",
        x_title: "percentile",
        y_title: "latency",
        x_ticks,
        y_ticks,
        y_minor,
        zero_y: None,
        names: series.iter().map(|s| s.0.as_str()).collect(),
        lines,
        has_data,
    })
}

/// A tick on an axis: its pixel position along that axis and its label.
#[derive(Debug)]
struct Tick {
    pos: f64,
    label: Option<String>,
}

/// Everything [`render`] draws, in pixel coordinates.
#[derive(Debug)]
struct Chart<'a> {
    title: &'a str,
    x_title: &'a str,
    y_title: &'a str,
    x_ticks: Vec<Tick>,
    y_ticks: Vec<Tick>,
    /// y positions of faint unlabelled gridlines.
    y_minor: Vec<f64>,
    /// y position of the emphasised zero line, if the axis crosses zero.
    zero_y: Option<f64>,
    /// One name per input series (legend order, colour index).
    names: Vec<&'a str>,
    /// One point list per input series (possibly empty).
    lines: Vec<Vec<(f64, f64)>>,
    has_data: bool,
}

/// Writes formatted text to a `String` (which cannot fail).
macro_rules! w {
    ($dst:expr, $($arg:tt)*) => {
        let _ = write!($dst, $($arg)*);
    };
}

/// The SVG document for `c`.
fn render(c: &Chart<'_>) -> String {
    let mut s = String::with_capacity(8192);
    w!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
         viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"11\">\n"
    );
    s.push_str("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
    w!(
        s,
        "<text x=\"{}\" y=\"28\" text-anchor=\"middle\" font-size=\"16\" \
         font-weight=\"bold\">{}</text>\n",
        f1((LEFT + RIGHT) / 2.0),
        esc(c.title)
    );

    // Gridlines: minor, major, zero.
    if !c.y_minor.is_empty() {
        s.push_str("<g stroke=\"#f0f0f0\" stroke-width=\"1\">\n");
        for &y in &c.y_minor {
            hline(&mut s, y);
        }
        s.push_str("</g>\n");
    }
    s.push_str("<g stroke=\"#dddddd\" stroke-width=\"1\">\n");
    for t in &c.y_ticks {
        hline(&mut s, t.pos);
    }
    for t in &c.x_ticks {
        w!(
            s,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/>\n",
            f1(TOP),
            f1(BOTTOM),
            x = f1(t.pos)
        );
    }
    s.push_str("</g>\n");
    if let Some(y) = c.zero_y {
        s.push_str("<g stroke=\"#888888\" stroke-width=\"1\">\n");
        hline(&mut s, y);
        s.push_str("</g>\n");
    }

    // Frame, tick marks and labels.
    w!(
        s,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333333\"/>\n",
        f1(LEFT),
        f1(TOP),
        f1(RIGHT - LEFT),
        f1(BOTTOM - TOP)
    );
    s.push_str("<g stroke=\"#333333\" stroke-width=\"1\">\n");
    for t in &c.x_ticks {
        w!(
            s,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/>\n",
            f1(BOTTOM),
            f1(BOTTOM + 4.0),
            x = f1(t.pos)
        );
    }
    for t in &c.y_ticks {
        w!(
            s,
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/>\n",
            f1(LEFT - 4.0),
            f1(LEFT),
            y = f1(t.pos)
        );
    }
    s.push_str("</g>\n");
    s.push_str("<g fill=\"#333333\" text-anchor=\"middle\">\n");
    for t in &c.x_ticks {
        if let Some(label) = &t.label {
            w!(
                s,
                "<text x=\"{}\" y=\"{}\">{}</text>\n",
                f1(t.pos),
                f1(BOTTOM + 17.0),
                esc(label)
            );
        }
    }
    s.push_str("</g>\n<g fill=\"#333333\" text-anchor=\"end\">\n");
    for t in &c.y_ticks {
        if let Some(label) = &t.label {
            w!(
                s,
                "<text x=\"{}\" y=\"{}\">{}</text>\n",
                f1(LEFT - 7.0),
                f1(t.pos + 4.0),
                esc(label)
            );
        }
    }
    s.push_str("</g>\n");

    // Axis titles.
    w!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\">{}</text>\n",
        f1((LEFT + RIGHT) / 2.0),
        f1(BOTTOM + 40.0),
        esc(c.x_title)
    );
    w!(
        s,
        "<text transform=\"translate(20,{}) rotate(-90)\" text-anchor=\"middle\" \
         font-size=\"12\">{}</text>\n",
        f1((TOP + BOTTOM) / 2.0),
        esc(c.y_title)
    );

    if !c.has_data {
        w!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"14\" \
             fill=\"#999999\">no data</text>\n",
            f1((LEFT + RIGHT) / 2.0),
            f1((TOP + BOTTOM) / 2.0)
        );
    }

    // Series.
    for (i, (pts, name)) in c.lines.iter().zip(&c.names).enumerate() {
        if pts.is_empty() {
            continue;
        }
        let colour = PALETTE[i % PALETTE.len()];
        w!(
            s,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" \
             stroke-linejoin=\"round\" points=\""
        );
        for (j, &(x, y)) in pts.iter().enumerate() {
            if j > 0 {
                s.push(' ');
            }
            w!(s, "{},{}", f1(x), f1(y));
        }
        w!(s, "\"><title>{}</title></polyline>\n", esc(name));
        if let [(x, y)] = pts[..] {
            w!(
                s,
                "<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{colour}\"/>\n",
                f1(x),
                f1(y)
            );
        }
    }

    // Legend.
    let rows = ((BOTTOM - TOP) / LEGEND_ROW) as usize;
    let shown = if c.names.len() > rows {
        rows - 1
    } else {
        c.names.len()
    };
    for (i, name) in c.names.iter().take(shown).enumerate() {
        let y = TOP + 6.0 + i as f64 * LEGEND_ROW;
        w!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"4\" fill=\"{}\"/>\n",
            f1(LEGEND_X),
            f1(y + 3.0),
            PALETTE[i % PALETTE.len()]
        );
        w!(
            s,
            "<text x=\"{}\" y=\"{}\">{}</text>\n",
            f1(LEGEND_X + 20.0),
            f1(y + 9.0),
            esc(&truncate(name, LEGEND_CHARS))
        );
    }
    if shown < c.names.len() {
        let y = TOP + 6.0 + shown as f64 * LEGEND_ROW;
        w!(
            s,
            "<text x=\"{}\" y=\"{}\" fill=\"#666666\">+{} more</text>\n",
            f1(LEGEND_X + 20.0),
            f1(y + 9.0),
            c.names.len() - shown
        );
    }

    s.push_str("</svg>\n");
    s
}

/// A horizontal line across the plot area at `y`.
fn hline(s: &mut String, y: f64) {
    w!(
        s,
        "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/>\n",
        f1(LEFT),
        f1(RIGHT),
        y = f1(y)
    );
}

/// `v` with one decimal; never `NaN`, `inf` or `-0.0`.
fn f1(v: f64) -> String {
    let v = if v.is_finite() {
        v.clamp(-1e6, 1e6)
    } else {
        0.0
    };
    let s = format!("{v:.1}");
    if s == "-0.0" {
        "0.0".to_string()
    } else {
        s
    }
}

/// `s` escaped for XML text and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` cut to `max` characters, with an ellipsis when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// At most [`MAX_POINTS`] of `pts`: the first and last, and per bucket of the rest the
/// minimum and maximum of `key` (in their original order), so spikes survive.
fn downsample<T: Copy>(pts: &[T], key: impl Fn(&T) -> f64) -> Vec<T> {
    let n = pts.len();
    if n <= MAX_POINTS {
        return pts.to_vec();
    }
    let interior = &pts[1..n - 1];
    let buckets = (MAX_POINTS - 2) / 2;
    let size = interior.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(MAX_POINTS);
    out.push(pts[0]);
    for chunk in interior.chunks(size) {
        let (mut lo, mut hi) = (0, 0);
        for (i, p) in chunk.iter().enumerate() {
            if key(p) < key(&chunk[lo]) {
                lo = i;
            }
            if key(p) > key(&chunk[hi]) {
                hi = i;
            }
        }
        let (a, b) = (lo.min(hi), lo.max(hi));
        out.push(chunk[a]);
        if b != a {
            out.push(chunk[b]);
        }
    }
    out.push(pts[n - 1]);
    out
}

/// A 1/2/5 × 10^k step that cuts `span` into about `target` intervals.
fn nice_step(span: f64, target: f64) -> f64 {
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / target;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm <= 1.0 + 1e-9 {
        1.0
    } else if norm <= 2.0 + 1e-9 {
        2.0
    } else if norm <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// `v` with rounding noise far below `step` removed (so 0 prints as 0, not -0.0000001).
fn snap(v: f64, step: f64) -> f64 {
    if v.abs() < step * 1e-6 {
        0.0
    } else {
        v
    }
}

/// Divisor and suffix for dollar labels on an axis reaching `max_abs`.
fn dollar_scale(max_abs: f64) -> (f64, &'static str) {
    if max_abs >= 1e12 {
        (1e12, "T")
    } else if max_abs >= 1e9 {
        (1e9, "B")
    } else if max_abs >= 1e6 {
        (1e6, "M")
    } else {
        (1.0, "")
    }
}

/// A dollar tick label such as `-$1,250.5` or `$2.5M`, with as many decimals as `step` needs.
fn fmt_dollars(v: f64, step: f64, (scale, suffix): (f64, &str)) -> String {
    let rel = step / scale;
    let decimals = if rel >= 1.0 {
        0
    } else {
        ((-rel.log10()) - 1e-9).ceil().clamp(0.0, 6.0) as usize
    };
    let body = format!("{:.*}", decimals, v.abs() / scale);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body.as_str(), None),
    };
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let zero = body.chars().all(|c| c == '0' || c == '.');
    let sign = if v < 0.0 && !zero { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}${grouped}.{f}{suffix}"),
        None => format!("{sign}${grouped}{suffix}"),
    }
}

/// Time-of-day ticks between `t0` and `t1` (ns since midnight) at a round step, labelled
/// `HH:MM` (or `HH:MM:SS` when the step is under a minute).
fn time_ticks(t0: u64, t1: u64) -> Vec<(u64, String)> {
    const SEC: u64 = 1_000_000_000;
    const STEPS_S: [u64; 18] = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    ];
    let span = t1.saturating_sub(t0).max(1);
    let step = STEPS_S
        .iter()
        .map(|s| s * SEC)
        .find(|&st| span / st <= 8)
        .unwrap_or_else(|| (span / 6).div_ceil(86400 * SEC).max(1) * 86400 * SEC);
    let with_secs = step < 60 * SEC;
    let mut out = Vec::new();
    let mut t = u128::from(t0).div_ceil(u128::from(step)) * u128::from(step);
    while t <= u128::from(t1) && out.len() < MAX_TICKS {
        let Ok(tt) = u64::try_from(t) else { break };
        let total_s = tt / SEC;
        let (h, m, sec) = (total_s / 3600 % 24, total_s / 60 % 60, total_s % 60);
        // Past the first day (a run of several trading days): the day, from 1.
        let day = match total_s / 86_400 {
            0 => String::new(),
            d => format!("d{} ", d + 1),
        };
        let label = if with_secs {
            format!("{day}{h:02}:{m:02}:{sec:02}")
        } else {
            format!("{day}{h:02}:{m:02}")
        };
        out.push((tt, label));
        t += u128::from(step);
    }
    out
}

/// 1/(1-p) for a percentile `p` in [0, 1], clamped to [1, [`MAX_INV_TAIL`]].
fn inv_tail(p: f64) -> f64 {
    let p = p.clamp(0.0, 1.0);
    let t = 1.0 / (1.0 - p);
    if t.is_finite() {
        t.clamp(1.0, MAX_INV_TAIL)
    } else {
        MAX_INV_TAIL
    }
}

/// The percentile at 1/(1-p) = 10^k: `0%`, `90%`, `99%`, `99.9%`, …
fn percent_label(k: i32) -> String {
    match k {
        i32::MIN..=0 => "0%".to_string(),
        1 => "90%".to_string(),
        2 => "99%".to_string(),
        _ => format!("99.{}%", "9".repeat((k - 2) as usize)),
    }
}

/// A latency such as `500 ns`, `2 µs`, `1.5 ms`.
fn fmt_ns(v: f64) -> String {
    let (scale, unit) = if v < 1e3 {
        (1.0, "ns")
    } else if v < 1e6 {
        (1e3, "µs")
    } else if v < 1e9 {
        (1e6, "ms")
    } else {
        (1e9, "s")
    };
    let x = v / scale;
    if (x - x.round()).abs() < 1e-6 {
        format!("{x:.0} {unit}")
    } else {
        format!("{x:.1} {unit}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn s<T: Clone>(name: &str, pts: &[T]) -> (String, Vec<T>) {
        (name.to_string(), pts.to_vec())
    }

    fn well_formed(doc: &str) {
        assert!(
            doc.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{doc}"
        );
        assert!(doc.trim_end().ends_with("</svg>"));
        assert!(doc.contains("viewBox=\"0 0 900 500\""));
        assert!(doc.contains("fill=\"#ffffff\""));
        for bad in ["NaN", "nan", "inf"] {
            assert!(!doc.contains(bad), "{bad} in {doc}");
        }
    }

    fn polylines(doc: &str) -> usize {
        doc.matches("<polyline").count()
    }

    #[test]
    fn equity_basic() {
        let h9 = 9 * 3600 * 1_000_000_000u64;
        let doc = equity_svg(&[
            s(
                "imbalance",
                &[
                    (h9, 0.0),
                    (h9 + 3_600_000_000_000, 120.5),
                    (h9 + 7_200_000_000_000, 80.0),
                ],
            ),
            s(
                "mm <fast> & \"safe\"",
                &[(h9, 0.0), (h9 + 7_200_000_000_000, -40.0)],
            ),
        ]);
        well_formed(&doc);
        assert_eq!(polylines(&doc), 2);
        assert!(doc.contains("imbalance"));
        assert!(doc.contains("mm &lt;fast&gt; &amp; &quot;safe&quot;"));
        assert!(!doc.contains("<fast>"));
        assert!(doc.contains(">09:00<"));
        assert!(doc.contains(">11:00<"));
        assert!(doc.contains(">$0<"));
        assert!(doc.contains(">-$50<"));
        assert!(
            doc.contains("stroke=\"#888888\""),
            "zero line when the axis crosses 0"
        );
        assert!(doc.contains(PALETTE[0]) && doc.contains(PALETTE[1]));
    }

    #[test]
    fn equity_edge_cases() {
        // No series.
        let doc = equity_svg(&[]);
        well_formed(&doc);
        assert_eq!(polylines(&doc), 0);
        assert!(doc.contains("no data"));
        // An empty series, a one-point series, all-equal and negative values, non-finite values.
        let doc = equity_svg(&[
            s("empty", &[]),
            s("one", &[(1_000, 5.0)]),
            s("flat", &[(1_000, 5.0), (2_000, 5.0)]),
            s(
                "neg",
                &[
                    (1_000, -1e9),
                    (2_000, f64::NAN),
                    (3_000, f64::INFINITY),
                    (4_000, -2e9),
                ],
            ),
        ]);
        well_formed(&doc);
        assert_eq!(polylines(&doc), 3);
        assert!(doc.contains("<circle"));
        for n in ["empty", "one", "flat", "neg"] {
            assert!(doc.contains(n));
        }
        // Only all-equal points at a single instant.
        let doc = equity_svg(&[s("a", &[(0, 0.0)]), s("b", &[(0, 0.0)])]);
        well_formed(&doc);
        assert_eq!(polylines(&doc), 2);
        // Only non-finite points: the series is empty.
        let doc = equity_svg(&[s("x", &[(5, f64::NAN)])]);
        well_formed(&doc);
        assert_eq!(polylines(&doc), 0);
        // Extremes.
        let doc = equity_svg(&[s("x", &[(0, f64::MAX), (u64::MAX, f64::MIN)])]);
        well_formed(&doc);
        let doc = equity_svg(&[s("x", &[(1, 1e-12), (2, 3e-12)])]);
        well_formed(&doc);
    }

    #[test]
    fn many_series_cycle_colours_and_legend_overflow() {
        let series: Vec<_> = (0..30)
            .map(|i| s(&format!("s{i}"), &[(0, 1.0), (10, f64::from(i))]))
            .collect();
        let doc = equity_svg(&series);
        well_formed(&doc);
        assert_eq!(polylines(&doc), 30);
        assert!(doc.contains("more</text>"));
    }

    #[test]
    fn downsampling_keeps_spike() {
        let n = 100_000u64;
        let mut pts: Vec<(u64, f64)> = (0..n).map(|i| (i * 1_000_000, 100.0)).collect();
        pts[54_321].1 = 1e6;
        pts[77_777].1 = -5e5;
        let d = downsample(&pts, |p| p.1);
        assert!(d.len() <= MAX_POINTS);
        assert_eq!(d.first(), pts.first());
        assert_eq!(d.last(), pts.last());
        assert!(d.contains(&pts[54_321]));
        assert!(d.contains(&pts[77_777]));
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0), "order kept");
        let doc = equity_svg(&[s("big", &pts)]);
        well_formed(&doc);
        assert_eq!(polylines(&doc), 1);
        let coords = doc
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(coords.split(' ').count() <= MAX_POINTS);
        // The spike reaches the top of the plot area.
        assert!(
            coords
                .split(' ')
                .any(|c| c.ends_with(&format!(",{}", f1(TOP)))),
            "{coords}"
        );
        // Short series are untouched.
        assert_eq!(downsample(&pts[..10], |p| p.1), pts[..10].to_vec());
    }

    #[test]
    fn latency_basic() {
        let hist = [
            (0.0, 800),
            (0.5, 1_200),
            (0.9, 2_000),
            (0.99, 5_000),
            (0.999, 40_000),
            (1.0, 2_500_000),
        ];
        let doc = latency_svg(&[
            s("feed->book", &hist),
            s("book->strategy", &[(0.0, 100), (0.999_99, 900)]),
        ]);
        well_formed(&doc);
        assert_eq!(polylines(&doc), 2);
        assert!(doc.contains("feed-&gt;book"));
        assert!(doc.contains("book-&gt;strategy"));
        for label in ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"] {
            assert!(doc.contains(&format!(">{label}<")), "{label}");
        }
        for label in ["100 ns", "1 µs", "10 µs", "1 ms", "10 ms"] {
            assert!(doc.contains(&format!(">{label}<")), "{label}");
        }
    }

    #[test]
    fn latency_edge_cases() {
        let doc = latency_svg(&[]);
        well_formed(&doc);
        assert_eq!(polylines(&doc), 0);
        for label in ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"] {
            assert!(doc.contains(&format!(">{label}<")), "{label}");
        }
        let doc = latency_svg(&[
            s("zeros", &[(0.0, 0), (1.0, 0)]),
            s("one", &[(1.0, 7)]),
            s("flat", &[(0.5, 1_234), (0.99, 1_234)]),
            s(
                "odd",
                &[
                    (f64::NAN, 5),
                    (-3.0, 5),
                    (7.0, u64::MAX),
                    (f64::INFINITY, 9),
                ],
            ),
            s("none", &[]),
        ]);
        well_formed(&doc);
        assert_eq!(polylines(&doc), 4);
        assert!(doc.contains(">1 ns<"));
        assert!(doc.contains(">10 s<"), "u64::MAX ns fits on the axis");
        // All-equal values: one decade, labelled at 1/2/5.
        let doc = latency_svg(&[s("flat", &[(0.5, 1_234), (0.99, 1_234)])]);
        well_formed(&doc);
        assert!(doc.contains(">1 µs<") && doc.contains(">2 µs<") && doc.contains(">10 µs<"));
    }

    #[test]
    fn deterministic() {
        let eq = vec![s("a", &[(1u64, 1.0), (2, 3.5)]), s("b", &[(1u64, -1.0)])];
        assert_eq!(equity_svg(&eq), equity_svg(&eq));
        let lat = vec![s("a", &[(0.5, 10u64), (0.999, 1000)])];
        assert_eq!(latency_svg(&lat), latency_svg(&lat));
    }

    #[test]
    fn helpers() {
        assert_eq!(nice_step(10.0, 5.0), 2.0);
        assert_eq!(nice_step(7.0, 6.0), 2.0);
        assert_eq!(nice_step(0.0, 6.0), 1.0);
        assert_eq!(nice_step(f64::INFINITY, 6.0), 1.0);
        assert_eq!(fmt_dollars(-1250.5, 0.5, (1.0, "")), "-$1,250.5");
        assert_eq!(
            fmt_dollars(2_500_000.0, 500_000.0, dollar_scale(2.5e6)),
            "$2.5M"
        );
        assert_eq!(fmt_dollars(0.0, 10.0, (1.0, "")), "$0");
        assert_eq!(fmt_ns(500.0), "500 ns");
        assert_eq!(fmt_ns(2_000.0), "2 µs");
        assert_eq!(fmt_ns(1.5e6), "1.5 ms");
        assert_eq!(inv_tail(1.0), MAX_INV_TAIL);
        assert_eq!(inv_tail(0.0), 1.0);
        assert_eq!(f1(-0.01), "0.0");
        assert_eq!(f1(f64::NAN), "0.0");
        assert_eq!(esc("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&apos;");
        let t = time_ticks(34_200_000_000_000, 57_600_000_000_000);
        assert_eq!(t.first().map(|x| x.1.as_str()), Some("10:00"));
        assert_eq!(t.last().map(|x| x.1.as_str()), Some("16:00"));
        let t = time_ticks(0, 30_000_000_000);
        assert_eq!(t.get(1).map(|x| x.1.as_str()), Some("00:00:05"));
        // Two trading days, the second drawn a day on: its ticks say so.
        let t = time_ticks(34_200_000_000_000, DAY_NS + 57_600_000_000_000);
        assert_eq!(t.first().map(|x| x.1.as_str()), Some("12:00"));
        assert_eq!(t.last().map(|x| x.1.as_str()), Some("d2 12:00"));
    }
}
