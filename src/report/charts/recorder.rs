//! A recording drawing backend: the email's PNG charts are laid out once
//! and put on two backgrounds (see `trend_png`).
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, DrawingBackend, DrawingErrorKind,
};

/// A drawing backend that records what plotters asks of a bitmap (pixels,
/// lines and rectangles, the only calls the bitmap backend implements
/// itself; text, circles, paths and polygons come here already broken down
/// by plotters' default code, exactly as they reach the bitmap backend) to
/// replay them onto several bitmaps: the chart's layout, text and shapes
/// are computed once for its two backgrounds.
pub(super) struct Recorder<'a> {
    pub size: (u32, u32),
    pub ops: &'a mut Vec<Op>,
}

/// (The bitmap backend's own `blit_bitmap` copies opaque pixels, as the
/// default one, which draws them one by one, does: no call of its own.)
#[derive(Clone, Copy)]
pub(super) enum Op {
    Pixel(BackendCoord, BackendColor),
    Line(BackendCoord, BackendCoord, Recorded),
    Rect(BackendCoord, BackendCoord, Recorded, bool),
}

/// A style as the backend received it.
#[derive(Clone, Copy)]
pub(super) struct Recorded {
    color: BackendColor,
    width: u32,
}

impl BackendStyle for Recorded {
    fn color(&self) -> BackendColor {
        self.color
    }
    fn stroke_width(&self) -> u32 {
        self.width
    }
}

fn recorded<S: BackendStyle>(style: &S) -> Recorded {
    Recorded {
        color: style.color(),
        width: style.stroke_width(),
    }
}

#[derive(Debug)]
pub(super) struct NoError;

impl std::fmt::Display for NoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("recording cannot fail")
    }
}

impl std::error::Error for NoError {}

impl DrawingBackend for Recorder<'_> {
    type ErrorType = NoError;

    fn get_size(&self) -> (u32, u32) {
        self.size
    }
    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<NoError>> {
        Ok(())
    }
    fn present(&mut self) -> Result<(), DrawingErrorKind<NoError>> {
        Ok(())
    }
    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<NoError>> {
        self.ops.push(Op::Pixel(point, color));
        Ok(())
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<NoError>> {
        self.ops.push(Op::Line(from, to, recorded(style)));
        Ok(())
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<NoError>> {
        self.ops
            .push(Op::Rect(upper_left, bottom_right, recorded(style), fill));
        Ok(())
    }
}

/// Draws what a [`Recorder`] recorded onto `target`, in order.
pub(super) fn replay<DB: DrawingBackend>(
    ops: &[Op],
    target: &mut DB,
) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
    for op in ops {
        match op {
            Op::Pixel(p, c) => target.draw_pixel(*p, *c)?,
            Op::Line(a, b, s) => target.draw_line(*a, *b, s)?,
            Op::Rect(a, b, s, fill) => target.draw_rect(*a, *b, s, *fill)?,
        }
    }
    Ok(())
}
