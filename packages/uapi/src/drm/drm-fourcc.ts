/**
 * include/uapi/drm/drm_fourcc.h, the parts in use: the fourcc codes of a few pixel formats and
 * the linear format modifier (DRM_FORMAT_MOD_INVALID, 2^56 - 1, is beyond the u64 fields' JS
 * number range and not modeled).
 */

/** Models fourcc_code(a, b, c, d): the four characters as a little-endian u32. */
export function fourccCode(code: string): number {
  if (code.length !== 4) throw new RangeError(`fourcc_code: "${code}" is not four characters`);
  return (
    (code.charCodeAt(0) |
      (code.charCodeAt(1) << 8) |
      (code.charCodeAt(2) << 16) |
      (code.charCodeAt(3) << 24)) >>>
    0
  );
}

/** Models DRM_FORMAT_INVALID: no format (drm_mode_legacy_fb_format()'s answer for a bad pair). */
export const DRM_FORMAT_INVALID = 0;
/** Models DRM_FORMAT_C1: 1 bpp color index, eight pixels a byte. */
export const DRM_FORMAT_C1 = fourccCode("C1  ");
/** Models DRM_FORMAT_C2: 2 bpp color index, four pixels a byte. */
export const DRM_FORMAT_C2 = fourccCode("C2  ");
/** Models DRM_FORMAT_C4: 4 bpp color index, two pixels a byte. */
export const DRM_FORMAT_C4 = fourccCode("C4  ");
/** Models DRM_FORMAT_C8: 8 bpp color index. */
export const DRM_FORMAT_C8 = fourccCode("C8  ");
/** Models DRM_FORMAT_RGB565: [15:0] R:G:B 5:6:5 little endian. */
export const DRM_FORMAT_RGB565 = fourccCode("RG16");
/** Models DRM_FORMAT_XRGB1555: [15:0] x:R:G:B 1:5:5:5 little endian. */
export const DRM_FORMAT_XRGB1555 = fourccCode("XR15");
/** Models DRM_FORMAT_RGB888: [23:0] R:G:B little endian. */
export const DRM_FORMAT_RGB888 = fourccCode("RG24");
/** Models DRM_FORMAT_XRGB2101010: [31:0] x:R:G:B 2:10:10:10 little endian. */
export const DRM_FORMAT_XRGB2101010 = fourccCode("XR30");
/** Models DRM_FORMAT_XBGR2101010: [31:0] x:B:G:R 2:10:10:10 little endian. */
export const DRM_FORMAT_XBGR2101010 = fourccCode("XB30");
/** Models DRM_FORMAT_XRGB8888: [31:0] x:R:G:B 8:8:8:8 little endian. */
export const DRM_FORMAT_XRGB8888 = fourccCode("XR24");
/** Models DRM_FORMAT_ARGB8888: [31:0] A:R:G:B 8:8:8:8 little endian. */
export const DRM_FORMAT_ARGB8888 = fourccCode("AR24");
/** Models DRM_FORMAT_XBGR8888: [31:0] x:B:G:R 8:8:8:8 little endian. */
export const DRM_FORMAT_XBGR8888 = fourccCode("XB24");
/** Models DRM_FORMAT_NV12: 2x2 subsampled Cr:Cb plane after a Y plane (two planes). */
export const DRM_FORMAT_NV12 = fourccCode("NV12");

/** Models DRM_FORMAT_MOD_LINEAR (0): a linear layout. */
export const DRM_FORMAT_MOD_LINEAR = 0;
