// Fused CPU kernels of the batched augmenters, as an MXNet custom-operator library
// (MXNet's lib_api.h; built and loaded by native.py). Each is one pass over the batch
// where the same computation in MXNet's own operators takes several (see native.py).
// They compute what geometry.py and color.py compute with MXNet's operators, which
// stay the reference: tests/test_native_kernels.py checks the two agree.
//
//   gluon_aug_resample(x, rows, cols) -> out
//       x (N, C, H, W); rows (N, 4, Ho): source rows r0, r1 and their weights w0, w1;
//       cols (N, 4, Wo) the same for columns. out[n, c, i, j] =
//       sum over the taps (a, b) of wy_a[n, i] wx_b[n, j] x[n, c, r_a[n, i], c_b[n, j]];
//       a tap of weight 0 is skipped (so a whole-pixel move is an exact copy).
//   gluon_aug_erase(x, boxes, value=0) -> out
//       boxes (N, 5): erase (0/1), top, left, height, width; out = x with each erased
//       sample's box (all channels) set to `value`.
//   gluon_aug_color(x, factors, order, mxnet_saturation=1) -> out
//       x (N, 3, H, W) in [0, 1]; factors (N, 4): brightness, contrast and saturation
//       factors and the hue shift in turns; order (N, K): the ops to run per sample
//       (0 brightness, 1 contrast, 2 saturation, 3 hue, -1 none), in that order, each
//       on the whole image (in cache) before the next, as color.py's formulas.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "mxnet/lib_api.h"

using namespace mxnet::ext;

namespace {

MXReturnValue float_types(const std::unordered_map<std::string, std::string>& attrs,
                          std::vector<int>* in_types, std::vector<int>* out_types) {
  for (int t : *in_types) {
    if (t != kFloat32) {
      MX_ERROR_MSG << "gluon_aug kernels take float32 inputs only";
      return MX_FAIL;
    }
  }
  out_types->at(0) = kFloat32;
  return MX_SUCCESS;
}

template <int IN>
MXReturnValue inputs_and_one_output(const std::unordered_map<std::string, std::string>& attrs,
                                    int* num_in, int* num_out) {
  *num_in = IN;
  *num_out = 1;
  return MX_SUCCESS;
}

float attr_float(const std::unordered_map<std::string, std::string>& attrs,
                 const std::string& key, float fallback) {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : std::stof(it->second);
}

// ---- resample --------------------------------------------------------------------------

MXReturnValue resample_shape(const std::unordered_map<std::string, std::string>& attrs,
                             std::vector<std::vector<unsigned int>>* in,
                             std::vector<std::vector<unsigned int>>* out) {
  const auto& x = in->at(0);
  const auto& rows = in->at(1);
  const auto& cols = in->at(2);
  if (x.size() != 4 || rows.size() != 3 || cols.size() != 3 || rows[1] != 4 || cols[1] != 4 ||
      rows[0] != x[0] || cols[0] != x[0]) {
    MX_ERROR_MSG << "gluon_aug_resample: x (N, C, H, W), rows (N, 4, Ho), cols (N, 4, Wo)";
    return MX_FAIL;
  }
  out->at(0) = {x[0], x[1], rows[2], cols[2]};
  return MX_SUCCESS;
}

// A sample's columns when they are whole pixels (every weight 0 or 1, one tap) read
// in a run of +1 or -1 steps, with zeros outside [j0, j1): a shift, a flip, or a
// crop of them. Such a row is a memcpy or a reversed copy, not a gather.
struct ColumnRun {
  int step = 0;        // +1, -1; 0: not a run (the general gather)
  int64_t j0 = 0, j1 = 0, base = 0;   // out[j] = src[base + step * j] for j0 <= j < j1
};

ColumnRun column_run(const int64_t* c0, const float* wx0, const float* wx1, int64_t Wo) {
  ColumnRun run;
  int64_t j0 = 0;
  while (j0 < Wo && wx0[j0] == 0.0f && wx1[j0] == 0.0f) ++j0;
  int64_t j1 = Wo;
  while (j1 > j0 && wx0[j1 - 1] == 0.0f && wx1[j1 - 1] == 0.0f) --j1;
  if (j0 == j1) return run;
  const int step = (j1 - j0 > 1 && c0[j0 + 1] == c0[j0] - 1) ? -1 : 1;
  const int64_t base = c0[j0] - step * j0;
  for (int64_t j = j0; j < j1; ++j)
    if (wx0[j] != 1.0f || wx1[j] != 0.0f || c0[j] != base + step * j) return run;
  run.step = step;
  run.j0 = j0;
  run.j1 = j1;
  run.base = base;
  return run;
}

inline int64_t clamp_index(float v, int64_t size) {
  return std::min<int64_t>(std::max<int64_t>(static_cast<int64_t>(v), 0), size - 1);
}

MXReturnValue resample_forward(const std::unordered_map<std::string, std::string>& attrs,
                               std::vector<MXTensor>* inputs, std::vector<MXTensor>* outputs,
                               const OpResource& res) {
  MXTensor& xt = inputs->at(0);
  const int64_t N = xt.shape[0], C = xt.shape[1], H = xt.shape[2], W = xt.shape[3];
  const int64_t Ho = inputs->at(1).shape[2], Wo = inputs->at(2).shape[2];
  const float* x = xt.data<float>();
  const float* rows = inputs->at(1).data<float>();
  const float* cols = inputs->at(2).data<float>();
  float* out = outputs->at(0).data<float>();
  // the columns' source indices, and their runs, once per sample
  std::vector<int64_t> c0(N * Wo), c1(N * Wo);
  std::vector<ColumnRun> runs(N);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    const float* K = cols + n * 4 * Wo;
    for (int64_t j = 0; j < Wo; ++j) {
      c0[n * Wo + j] = clamp_index(K[j], W);
      c1[n * Wo + j] = clamp_index(K[Wo + j], W);
    }
    runs[n] = column_run(&c0[n * Wo], K + 2 * Wo, K + 3 * Wo, Wo);
  }
  const int64_t lines = N * C * Ho;
#pragma omp parallel for schedule(static)
  for (int64_t line = 0; line < lines; ++line) {
    const int64_t nc = line / Ho, i = line % Ho, n = nc / C;
    const float* R = rows + n * 4 * Ho;
    const float* K = cols + n * 4 * Wo;
    const int64_t* k0 = &c0[n * Wo];
    const int64_t* k1 = &c1[n * Wo];
    const float* wx0 = K + 2 * Wo;
    const float* wx1 = K + 3 * Wo;
    const float wy0 = R[2 * Ho + i], wy1 = R[3 * Ho + i];
    const float* s0 = x + (nc * H + clamp_index(R[i], H)) * W;
    const float* s1 = x + (nc * H + clamp_index(R[Ho + i], H)) * W;
    float* d = out + line * Wo;
    const ColumnRun& run = runs[n];
    if (wy1 == 0.0f && (wy0 == 0.0f || wy0 == 1.0f) && run.step != 0) {   // whole pixels
      std::fill(d, d + Wo, 0.0f);
      if (wy0 == 1.0f) {
        if (run.step == 1) {
          std::memcpy(d + run.j0, s0 + run.base + run.j0, (run.j1 - run.j0) * sizeof(float));
        } else {
          const float* s = s0 + run.base;
          for (int64_t j = run.j0; j < run.j1; ++j) d[j] = s[-j];
        }
      }
    } else if (wy1 == 0.0f) {   // one source row: a gather of columns (bilinear across them)
      for (int64_t j = 0; j < Wo; ++j) {
        float v = wx0[j] * s0[k0[j]];
        if (wx1[j] != 0.0f) v += wx1[j] * s0[k1[j]];
        d[j] = wy0 * v;
      }
    } else {            // two source rows: the rows first, then the columns
      for (int64_t j = 0; j < Wo; ++j) {
        const float a = wy0 * s0[k0[j]] + wy1 * s1[k0[j]];
        float v = wx0[j] * a;
        if (wx1[j] != 0.0f) v += wx1[j] * (wy0 * s0[k1[j]] + wy1 * s1[k1[j]]);
        d[j] = v;
      }
    }
  }
  return MX_SUCCESS;
}

// ---- erase -----------------------------------------------------------------------------

MXReturnValue erase_shape(const std::unordered_map<std::string, std::string>& attrs,
                          std::vector<std::vector<unsigned int>>* in,
                          std::vector<std::vector<unsigned int>>* out) {
  const auto& x = in->at(0);
  const auto& boxes = in->at(1);
  if (x.size() != 4 || boxes.size() != 2 || boxes[0] != x[0] || boxes[1] != 5) {
    MX_ERROR_MSG << "gluon_aug_erase: x (N, C, H, W), boxes (N, 5)";
    return MX_FAIL;
  }
  out->at(0) = x;
  return MX_SUCCESS;
}

MXReturnValue erase_forward(const std::unordered_map<std::string, std::string>& attrs,
                            std::vector<MXTensor>* inputs, std::vector<MXTensor>* outputs,
                            const OpResource& res) {
  MXTensor& xt = inputs->at(0);
  const int64_t N = xt.shape[0], C = xt.shape[1], H = xt.shape[2], W = xt.shape[3];
  const float* x = xt.data<float>();
  const float* boxes = inputs->at(1).data<float>();
  float* out = outputs->at(0).data<float>();
  const float value = attr_float(attrs, "value", 0.0f);
  const int64_t lines = N * C * H;
#pragma omp parallel for schedule(static)
  for (int64_t line = 0; line < lines; ++line) {
    const int64_t n = line / (C * H), i = line % H;
    const float* b = boxes + 5 * n;
    std::memcpy(out + line * W, x + line * W, W * sizeof(float));
    const int64_t top = static_cast<int64_t>(b[1]), left = static_cast<int64_t>(b[2]);
    const int64_t h = static_cast<int64_t>(b[3]), w = static_cast<int64_t>(b[4]);
    if (b[0] != 0.0f && i >= top && i < top + h) {
      const int64_t from = std::max<int64_t>(left, 0), to = std::min<int64_t>(left + w, W);
      for (int64_t j = from; j < to; ++j) out[line * W + j] = value;
    }
  }
  return MX_SUCCESS;
}

// ---- colour ----------------------------------------------------------------------------

const float LUMA[3] = {0.299f, 0.587f, 0.114f};

inline float clip01(float v) { return std::min(std::max(v, 0.0f), 1.0f); }

// One op on a whole image: planes sr, sg, sb in, r, g, b out (the same planes, or the
// batch's input for the first op, which so costs no separate copy).
void adjust(int op, float f, bool mxnet_saturation, const float* sr, const float* sg,
            const float* sb, float* r, float* g, float* b, int64_t P) {
  if (op == 0) {            // brightness: x * a
#pragma omp simd   // element p reads and writes element p only (in place or not)
    for (int64_t p = 0; p < P; ++p) {
      r[p] = clip01(sr[p] * f); g[p] = clip01(sg[p] * f); b[p] = clip01(sb[p] * f);
    }
  } else if (op == 1) {     // contrast: x * a + (1 - a) * mean(gray)
    double sum = 0;   // float sums of blocks (they vectorize), added up in double
    for (int64_t p0 = 0; p0 < P; p0 += 1024) {
      float block = 0;
      const int64_t p1 = std::min<int64_t>(p0 + 1024, P);
#pragma omp simd reduction(+:block)
      for (int64_t p = p0; p < p1; ++p)
        block += LUMA[0] * sr[p] + LUMA[1] * sg[p] + LUMA[2] * sb[p];
      sum += block;
    }
    const float offset = (1 - f) * static_cast<float>(sum / P);
#pragma omp simd   // element p reads and writes element p only (in place or not)
    for (int64_t p = 0; p < P; ++p) {
      r[p] = clip01(sr[p] * f + offset); g[p] = clip01(sg[p] * f + offset);
      b[p] = clip01(sb[p] * f + offset);
    }
  } else if (op == 2) {     // saturation: x * a + (1 - a) * gray (MXNet's: 0.114 B)
#pragma omp simd   // element p reads and writes element p only (in place or not)
    for (int64_t p = 0; p < P; ++p) {
      const float R = sr[p], G = sg[p], B = sb[p];
      const float gray = mxnet_saturation ? LUMA[2] * B : LUMA[0] * R + LUMA[1] * G + LUMA[2] * B;
      const float offset = (1 - f) * gray;
      r[p] = clip01(R * f + offset); g[p] = clip01(G * f + offset); b[p] = clip01(B * f + offset);
    }
  } else if (op == 3) {     // hue: rotate by f turns in the HLS hexcone (color.adjust_hue)
    const float turn = f - std::floor(f);
#pragma omp simd   // selects, not branches
    for (int64_t p = 0; p < P; ++p) {
      const float R = sr[p], G = sg[p], B = sb[p];
      const float vmax = std::max(std::max(R, G), B), vmin = std::min(std::min(R, G), B);
      const float diff = vmax - vmin, d = std::max(diff, 1e-30f);
      float h = vmax == R ? (G - B) / d : (vmax == G ? (B - R) / d + 2 : (R - G) / d + 4);
      h = h + 6 * turn + (h < 0 ? 6.0f : 0.0f);   // [0, 11)
      h = h >= 6 ? h - 6 : h;
      float k = h + 5;
      k = k >= 6 ? k - 6 : k;
      r[p] = vmax - diff * clip01(std::min(k, 4 - k));
      k = h + 3;
      k = k >= 6 ? k - 6 : k;
      g[p] = vmax - diff * clip01(std::min(k, 4 - k));
      k = h + 1;
      k = k >= 6 ? k - 6 : k;
      b[p] = vmax - diff * clip01(std::min(k, 4 - k));
    }
  }
}

MXReturnValue color_shape(const std::unordered_map<std::string, std::string>& attrs,
                          std::vector<std::vector<unsigned int>>* in,
                          std::vector<std::vector<unsigned int>>* out) {
  const auto& x = in->at(0);
  const auto& factors = in->at(1);
  const auto& order = in->at(2);
  if (x.size() != 4 || x[1] != 3 || factors.size() != 2 || factors[0] != x[0] ||
      factors[1] != 4 || order.size() != 2 || order[0] != x[0]) {
    MX_ERROR_MSG << "gluon_aug_color: x (N, 3, H, W), factors (N, 4), order (N, K)";
    return MX_FAIL;
  }
  out->at(0) = x;
  return MX_SUCCESS;
}

MXReturnValue color_forward(const std::unordered_map<std::string, std::string>& attrs,
                            std::vector<MXTensor>* inputs, std::vector<MXTensor>* outputs,
                            const OpResource& res) {
  MXTensor& xt = inputs->at(0);
  const int64_t N = xt.shape[0], P = xt.shape[2] * xt.shape[3];
  const int64_t K = inputs->at(2).shape[1];
  const float* x = xt.data<float>();
  const float* factors = inputs->at(1).data<float>();
  const float* order = inputs->at(2).data<float>();
  float* out = outputs->at(0).data<float>();
  const bool mxnet_saturation = attr_float(attrs, "mxnet_saturation", 1.0f) != 0.0f;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t n = 0; n < N; ++n) {   // one image at a time: its stages run in cache
    float* img = out + n * 3 * P;
    const float* src = x + n * 3 * P;   // the first op reads the input, the others img
    for (int64_t k = 0; k < K; ++k) {
      const int op = static_cast<int>(std::lround(order[n * K + k]));
      if (op < 0 || op > 3) continue;
      adjust(op, factors[4 * n + op], mxnet_saturation, src, src + P, src + 2 * P, img,
             img + P, img + 2 * P, P);
      src = img;
    }
    if (src != img) std::memcpy(img, src, 3 * P * sizeof(float));   // no op ran
  }
  return MX_SUCCESS;
}

// MXNet's cached graphs (hybridized blocks) derive a backward graph for every
// operator, so each registers one; augmentation runs on data outside
// autograd.record(), and a backward pass through it is refused.
MXReturnValue no_gradient(const std::unordered_map<std::string, std::string>& attrs,
                          std::vector<MXTensor>* inputs, std::vector<MXTensor>* outputs,
                          const OpResource& res) {
  MX_ERROR_MSG << "gluon_aug's augmentation kernels have no gradient: augment the data "
                  "outside autograd.record()";
  return MX_FAIL;
}

}  // namespace

REGISTER_OP(gluon_aug_resample)
.setParseAttrs(inputs_and_one_output<3>)
.setInferType(float_types)
.setInferShape(resample_shape)
.setForward(resample_forward, "cpu")
.setBackward(no_gradient, "cpu");

REGISTER_OP(gluon_aug_erase)
.setParseAttrs(inputs_and_one_output<2>)
.setInferType(float_types)
.setInferShape(erase_shape)
.setForward(erase_forward, "cpu")
.setBackward(no_gradient, "cpu");

REGISTER_OP(gluon_aug_color)
.setParseAttrs(inputs_and_one_output<3>)
.setInferType(float_types)
.setInferShape(color_shape)
.setForward(color_forward, "cpu")
.setBackward(no_gradient, "cpu");

MXReturnValue initialize(int version) {
  return MX_SUCCESS;
}
