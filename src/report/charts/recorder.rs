//! A recording drawing backend: the email's PNG charts are laid out once
//! and put on two backgrounds (see `trend_png`).
use plotters::backend::{BitMapBackend, PixelFormat, RGBPixel};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, DrawingBackend, DrawingErrorKind,
};

/// A drawing backend that records what plotters makes of a chart on a
/// bitmap, down to the bitmap backend's own pixel operations (a pixel, a
/// filled or blended rectangle, a vertical line), to replay them onto
/// several bitmaps: the chart's layout, text and shapes are computed and
/// rasterised once for its two backgrounds. It takes the bitmap backend's
/// decisions: the calls that backend implements itself (`draw_pixel`,
/// `draw_line`, `draw_rect`) do what it does, down to the same rasteriser
/// for the lines and rectangles it leaves to it; every other call (text,
/// circles, paths, polygons) is broken down by plotters' default code, as
/// on the bitmap.
pub(super) struct Recorder<'a> {
    pub size: (u32, u32),
    pub ops: &'a mut Vec<Op>,
}

/// (The bitmap backend's own `blit_bitmap` copies opaque pixels, as the
/// default one, which draws them one by one, does: no call of its own.)
#[derive(Clone, Copy)]
pub(super) enum Op {
    /// A pixel inside the bitmap.
    Pixel(BackendCoord, Rgb, f64),
    FillRect(BackendCoord, BackendCoord, Rgb),
    VerticalLine(i32, (i32, i32), Rgb),
    BlendRect(BackendCoord, BackendCoord, Rgb, f64),
}

type Rgb = (u8, u8, u8);

#[derive(Debug)]
pub(super) struct NoError;

impl std::fmt::Display for NoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("recording cannot fail")
    }
}

impl std::error::Error for NoError {}

/// `BitMapBackend`'s own calls (plotters-bitmap 0.3), recorded instead of drawn.
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
        if point.0 < 0
            || point.1 < 0
            || point.0 as u32 >= self.size.0
            || point.1 as u32 >= self.size.1
        {
            return Ok(());
        }
        self.ops.push(Op::Pixel(point, color.rgb, color.alpha));
        Ok(())
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<NoError>> {
        let alpha = style.color().alpha;
        let rgb = style.color().rgb;
        if (from.0 == to.0 || from.1 == to.1) && style.stroke_width() == 1 {
            self.ops.push(if alpha >= 1.0 {
                if from.1 == to.1 {
                    Op::FillRect(from, (to.0 + 1, to.1 + 1), rgb)
                } else {
                    Op::VerticalLine(from.0, (from.1, to.1), rgb)
                }
            } else {
                Op::BlendRect(from, (to.0 + 1, to.1 + 1), rgb, alpha)
            });
            return Ok(());
        }
        plotters_backend::rasterizer::draw_line(self, from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<NoError>> {
        let alpha = style.color().alpha;
        let rgb = style.color().rgb;
        if fill {
            self.ops.push(if alpha >= 1.0 {
                Op::FillRect(upper_left, bottom_right, rgb)
            } else {
                Op::BlendRect(upper_left, bottom_right, rgb, alpha)
            });
            return Ok(());
        }
        plotters_backend::rasterizer::draw_rect(self, upper_left, bottom_right, style, fill)
    }
}

/// Draws what a [`Recorder`] recorded onto `target`, in order, with the
/// bitmap backend's own pixel operations.
pub(super) fn replay(ops: &[Op], target: &mut BitMapBackend<'_, RGBPixel>) {
    for op in ops {
        match *op {
            Op::Pixel(p, rgb, alpha) => RGBPixel::draw_pixel(target, p, rgb, alpha),
            Op::FillRect(a, b, (r, g, bl)) => RGBPixel::fill_rect_fast(target, a, b, r, g, bl),
            Op::VerticalLine(x, ys, (r, g, b)) => {
                RGBPixel::fill_vertical_line_fast(target, x, ys, r, g, b)
            }
            Op::BlendRect(a, b, (r, g, bl), alpha) => {
                RGBPixel::blend_rect_fast(target, a, b, r, g, bl, alpha)
            }
        }
    }
}
