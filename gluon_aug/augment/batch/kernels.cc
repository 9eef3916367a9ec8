// Fused CPU kernels of the batched augmenters, as an MXNet custom-operator library
// (MXNet's lib_api.h; built and loaded by native.py). Each is one pass over the batch
// where the same computation in MXNet's own operators takes several (see native.py).
// They compute what geometry.py and color.py compute with MXNet's operators, which
// stay the reference: tests/test_native_kernels.py checks the two agree.
//
//   gluon_aug_resample(x, rows, cols[, boxes], erase=0, value=0) -> out
//       x (N, C, H, W); rows (N, 4, Ho): source rows r0, r1 and their weights w0, w1;
//       cols (N, 4, Wo) the same for columns. out[n, c, i, j] =
//       sum over the taps (a, b) of wy_a[n, i] wx_b[n, j] x[n, c, r_a[n, i], c_b[n, j]];
//       a tap of weight 0 is skipped (so a whole-pixel move is an exact copy). With
//       erase=1 and boxes (N, 5) (as gluon_aug_erase's), value=v: each erased box of the
//       output is then set to v, in the same pass (a move followed by erasing).
//   gluon_aug_taps(coords, x[, keep], axis=2, whole=0, keep=0) -> taps (N, 4, K)
//       The taps gluon_aug_resample reads, from source coordinates (N values of K each,
//       as (N, 1, K, 1) rows or (N, 1, 1, K) columns) along x's `axis` (its size is the
//       image side): whole=1, integer coordinates: (c, c, keep or 1, 0); else bilinear:
//       (floor c, floor c + 1, (1 - frac) in0, frac in1), in0/in1 whether each index is
//       inside the side, times keep (geometry.taps, the same float32 operations).
//   gluon_aug_erase(x, boxes, value=0) -> out
//       boxes (N, 5): erase (0/1), top, left, height, width; out = x with each erased
//       sample's box (all channels) set to `value`.
//   gluon_aug_color(x, factors, order, mxnet_saturation=1) -> out
//       x (N, 3, H, W) in [0, 1]; factors (N, 4): brightness, contrast and saturation
//       factors and the hue shift in turns; order (N, K): the ops to run per sample
//       (0 brightness, 1 contrast, 2 saturation, 3 hue, -1 none), in that order, each
//       on the whole image (in cache) before the next, as color.py's formulas.
//   gluon_aug_policy_stage(x, params, bilinear=0, fill="0,0,0") -> out, or
//   gluon_aug_policy_stage(x, op, value, bilinear=0, fill="0,0,0", ops="c0,c1,...") -> out
//       x (N, 3, H, W) in [0, 1] on the levels (ToTensor of uint8); params (N, 8): each
//       sample's op (POLICY_OPS below), its value, and the affine matrix a..f of a
//       geometric op. One stage of a batched policy (policies.py): every sample its own
//       op, computed on that image only, as policy_ops.py computes it with MXNet's
//       operators (float32, in the same order of operations: built without contracting
//       a * b + c into one rounding, the results agree to the level). With `ops` (each op
//       index's code, -1 .. -5 for the geometric ops): each sample's op index and value
//       (N values each, any shape); the codes and matrices are computed here, as
//       policies.py computes them.
//   gluon_aug_boxes(x, u, scale_low, scale_span, ratio_low, ratio_span, tall=0, whole=0,
//                   p=-1) -> erase, top, left, height, width (each (N, 1, 1, 1))
//       The box draw of BatchResizedCrop and BatchErasing (geometry.draw_boxes,
//       first_valid and offsets) from their uniform draws u (N, 2 T [+ 1] + 2): T tries of
//       area and log-aspect, [a coin if p >= 0], the two offsets; x gives the image size
//       only. `whole`: no fit means the whole image (a resized crop), else try 0's box;
//       erase = the box fits (and coin < p). The same float32 operations in the same order
//       as MXNet's operators there (expf, sqrtf, round half to even, floorf).
//   gluon_aug_lookup(index, table="v0,v1,...") -> out
//       out = table[index], elementwise (index holds integers as float32): a per-sample
//       choice from a fixed table (policies.py's lookup), where MXNet's operators take a
//       mask per entry and a sum. Each entry is parsed as a double, then rounded to
//       float32, as MXNet's scalar operators take their scalar.
//   gluon_aug_pick(index, v_0, ..., v_{K-1}, width=K) -> out
//       out[n] = v_{index[n]}[n]: per sample, one of K per-sample values (each N values, as
//       index), a copy (policies.py's pick), where MXNet's operators take a concatenation
//       of the K and a pick, or a mask per value and a sum.
//   gluon_aug_mix(x, chain_0, ..., chain_{K-1}, weights, m, width=K) -> out
//       AugMix's mixing (policies.py, BatchAugMix.apply) in one pass: weights (N, K),
//       m (N, 1); out = (1 - m) x + m (w_0 chain_0 + ... + w_{K-1} chain_{K-1}), summed
//       from 0 in that order, each product and sum rounded to float32 as MXNet's
//       elementwise operators round them (so the same values, bit for bit).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
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

double attr_double(const std::unordered_map<std::string, std::string>& attrs,
                   const std::string& key, double fallback) {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : std::stod(it->second);
}

// attribute `key` as a list "v0,v1,..." into `values`, each a double rounded to float32 (as
// MXNet's scalar operators take their scalar); false if it is absent or empty
bool attr_list(const std::unordered_map<std::string, std::string>& attrs,
               const std::string& key, std::vector<float>* values) {
  auto it = attrs.find(key);
  if (it == attrs.end()) return false;
  const std::string& list = it->second;
  for (size_t start = 0; start <= list.size();) {
    const size_t end = std::min(list.find(',', start), list.size());
    values->push_back(static_cast<float>(std::stod(list.substr(start, end - start))));
    start = end + 1;
  }
  return !values->empty();
}

// the `width` attribute of the operators with a variable number of inputs
int attr_width(const std::unordered_map<std::string, std::string>& attrs) {
  return static_cast<int>(attr_float(attrs, "width", 0.0f));
}

int64_t element_count(const std::vector<unsigned int>& shape) {
  int64_t n = 1;
  for (unsigned int d : shape) n *= d;
  return n;
}

// ---- resample --------------------------------------------------------------------------

MXReturnValue resample_inputs(const std::unordered_map<std::string, std::string>& attrs,
                              int* num_in, int* num_out) {
  *num_in = attrs.count("erase") ? 4 : 3;   // x, rows, cols[, boxes]
  *num_out = 1;
  return MX_SUCCESS;
}

MXReturnValue resample_shape(const std::unordered_map<std::string, std::string>& attrs,
                             std::vector<std::vector<unsigned int>>* in,
                             std::vector<std::vector<unsigned int>>* out) {
  const auto& x = in->at(0);
  const auto& rows = in->at(1);
  const auto& cols = in->at(2);
  const bool erase = attrs.count("erase") > 0;
  if (x.size() != 4 || rows.size() != 3 || cols.size() != 3 || rows[1] != 4 || cols[1] != 4 ||
      rows[0] != x[0] || cols[0] != x[0] ||
      (erase && (in->at(3).size() != 2 || in->at(3)[0] != x[0] || in->at(3)[1] != 5))) {
    MX_ERROR_MSG << "gluon_aug_resample: x (N, C, H, W), rows (N, 4, Ho), cols (N, 4, Wo), "
                    "and with erase=1 boxes (N, 5)";
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

// output row i of a sample whose box is b (erase, top, left, height, width): the box's
// columns set to `value` if it is erased and covers row i (gluon_aug_erase, row by row)
inline void erase_line(const float* b, int64_t i, float value, float* d, int64_t W) {
  const int64_t top = static_cast<int64_t>(b[1]), left = static_cast<int64_t>(b[2]);
  const int64_t h = static_cast<int64_t>(b[3]), w = static_cast<int64_t>(b[4]);
  if (b[0] != 0.0f && i >= top && i < top + h) {
    const int64_t from = std::max<int64_t>(left, 0), to = std::min<int64_t>(left + w, W);
    for (int64_t j = from; j < to; ++j) d[j] = value;
  }
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
  // with erase=1: each output's erasing box (boxes (N, 5), filled with `value` afterwards)
  const float* boxes = attrs.count("erase") ? inputs->at(3).data<float>() : nullptr;
  const float value = attr_float(attrs, "value", 0.0f);
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
      if (wy0 == 0.0f) {   // a row outside the image
        std::fill(d, d + Wo, 0.0f);
      } else {   // zeros outside the run only: each value written once
        std::fill(d, d + run.j0, 0.0f);
        std::fill(d + run.j1, d + Wo, 0.0f);
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
    if (boxes) erase_line(boxes + 5 * n, i, value, d, Wo);
  }
  return MX_SUCCESS;
}

// ---- taps ------------------------------------------------------------------------------

MXReturnValue taps_inputs(const std::unordered_map<std::string, std::string>& attrs,
                          int* num_in, int* num_out) {
  *num_in = attr_float(attrs, "keep", 0.0f) != 0.0f ? 3 : 2;   // coords, x[, keep]
  *num_out = 1;
  return MX_SUCCESS;
}

MXReturnValue taps_shape(const std::unordered_map<std::string, std::string>& attrs,
                         std::vector<std::vector<unsigned int>>* in,
                         std::vector<std::vector<unsigned int>>* out) {
  const auto& c = in->at(0);
  const auto& x = in->at(1);
  const int axis = static_cast<int>(attr_float(attrs, "axis", 2.0f));
  const bool ok = c.size() == 4 && x.size() == 4 && c[0] == x[0] && c[1] == 1 &&
                  (c[2] == 1 || c[3] == 1) && (axis == 2 || axis == 3) &&
                  (in->size() < 3 || in->at(2) == c);
  if (!ok) {
    MX_ERROR_MSG << "gluon_aug_taps: coords (N, 1, K, 1) or (N, 1, 1, K), x (N, C, H, W), "
                    "axis 2 or 3, keep shaped as coords";
    return MX_FAIL;
  }
  out->at(0) = {c[0], 4, c[2] * c[3]};
  return MX_SUCCESS;
}

MXReturnValue taps_forward(const std::unordered_map<std::string, std::string>& attrs,
                           std::vector<MXTensor>* inputs, std::vector<MXTensor>* outputs,
                           const OpResource& res) {
  MXTensor& ct = inputs->at(0);
  const int axis = static_cast<int>(attr_float(attrs, "axis", 2.0f));
  const bool whole = attr_float(attrs, "whole", 0.0f) != 0.0f;
  const float size = static_cast<float>(inputs->at(1).shape[axis]);
  const int64_t N = ct.shape[0], K = ct.shape[2] * ct.shape[3];
  const float* c = ct.data<float>();
  const float* keep = inputs->size() > 2 ? inputs->at(2).data<float>() : nullptr;
  float* out = outputs->at(0).data<float>();
  for (int64_t n = 0; n < N; ++n) {
    float* t = out + n * 4 * K;
    for (int64_t k = 0; k < K; ++k) {
      const float v = c[n * K + k];
      const float kv = keep ? keep[n * K + k] : 1.0f;
      if (whole) {
        t[k] = v;
        t[K + k] = v;
        t[2 * K + k] = kv;
        t[3 * K + k] = 0.0f;
      } else {
        const float first = std::floor(v), frac = v - first;
        const float in0 = (first >= 0.0f && first < size) ? 1.0f : 0.0f;
        const float in1 = (first + 1.0f >= 0.0f && first + 1.0f < size) ? 1.0f : 0.0f;
        float w0 = (1.0f - frac) * in0, w1 = frac * in1;
        if (keep) w0 = w0 * kv, w1 = w1 * kv;
        t[k] = first;
        t[K + k] = first + 1.0f;
        t[2 * K + k] = w0;
        t[3 * K + k] = w1;
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
    std::memcpy(out + line * W, x + line * W, W * sizeof(float));
    erase_line(boxes + 5 * n, i, value, out + line * W, W);
  }
  return MX_SUCCESS;
}

// ---- boxes -----------------------------------------------------------------------------

MXReturnValue boxes_outputs(const std::unordered_map<std::string, std::string>& attrs,
                            int* num_in, int* num_out) {
  *num_in = 2;
  *num_out = 5;
  return MX_SUCCESS;
}

MXReturnValue boxes_types(const std::unordered_map<std::string, std::string>& attrs,
                          std::vector<int>* in_types, std::vector<int>* out_types) {
  for (int t : *in_types) {
    if (t != kFloat32) {
      MX_ERROR_MSG << "gluon_aug kernels take float32 inputs only";
      return MX_FAIL;
    }
  }
  for (auto& t : *out_types) t = kFloat32;
  return MX_SUCCESS;
}

// the number of tries T in u's columns (2 T, a coin when p >= 0, two offsets), or -1
int box_tries(const std::unordered_map<std::string, std::string>& attrs, int64_t columns) {
  const int64_t rest = columns - 2 - (attr_double(attrs, "p", -1.0) >= 0.0 ? 1 : 0);
  return rest >= 2 && rest % 2 == 0 ? static_cast<int>(rest / 2) : -1;
}

MXReturnValue boxes_shape(const std::unordered_map<std::string, std::string>& attrs,
                          std::vector<std::vector<unsigned int>>* in,
                          std::vector<std::vector<unsigned int>>* out) {
  const auto& x = in->at(0);
  const auto& u = in->at(1);
  if (x.size() != 4 || u.size() != 2 || u[0] != x[0] || box_tries(attrs, u[1]) < 1) {
    MX_ERROR_MSG << "gluon_aug_boxes: x (N, C, H, W), u (N, 2 T + 2), or (N, 2 T + 3) with p";
    return MX_FAIL;
  }
  for (auto& o : *out) o = {x[0], 1, 1, 1};
  return MX_SUCCESS;
}

MXReturnValue boxes_forward(const std::unordered_map<std::string, std::string>& attrs,
                            std::vector<MXTensor>* inputs, std::vector<MXTensor>* outputs,
                            const OpResource& res) {
  const MXTensor& xt = inputs->at(0);
  const int64_t N = xt.shape[0];
  const float H = static_cast<float>(xt.shape[2]), W = static_cast<float>(xt.shape[3]);
  const int64_t columns = inputs->at(1).shape[1];
  const int T = box_tries(attrs, columns);
  const float* u = inputs->at(1).data<float>();
  // the scalars as MXNet's scalar operators take them: a double, then float32
  const float scale_low = static_cast<float>(attr_double(attrs, "scale_low", 0.0));
  const float scale_span = static_cast<float>(attr_double(attrs, "scale_span", 1.0));
  const float ratio_low = static_cast<float>(attr_double(attrs, "ratio_low", 0.0));
  const float ratio_span = static_cast<float>(attr_double(attrs, "ratio_span", 0.0));
  const bool tall = attr_double(attrs, "tall", 0.0) != 0.0;
  const bool whole = attr_double(attrs, "whole", 0.0) != 0.0;
  const double p_attr = attr_double(attrs, "p", -1.0);
  const bool coin = p_attr >= 0.0;
  const float p = static_cast<float>(p_attr);
  float* out[5];
  for (int k = 0; k < 5; ++k) out[k] = outputs->at(k).data<float>();
  for (int64_t n = 0; n < N; ++n) {
    const float* un = u + n * columns;
    float h = 0.0f, w = 0.0f, h0 = 0.0f, w0 = 0.0f;
    bool fits = false;
    for (int t = 0; t < T && !fits; ++t) {
      const float area = (scale_low + scale_span * un[t]) * H * W;
      const float aspect = std::exp(ratio_low + ratio_span * un[T + t]);
      // np.round: half to even, as nearbyint in the default rounding mode
      const float longer = std::nearbyint(std::sqrt(area * aspect));
      const float shorter = std::nearbyint(std::sqrt(area / aspect));
      h = tall ? longer : shorter;
      w = tall ? shorter : longer;
      if (t == 0) h0 = h, w0 = w;
      fits = w >= 1.0f && w <= W && h >= 1.0f && h <= H;
    }
    if (!fits) {   // first_valid picks try 0 (argmax of all zeros); a crop uses it all
      h = whole ? H : h0;
      w = whole ? W : w0;
    }
    const float* offsets = un + 2 * T + (coin ? 1 : 0);
    float erase = fits ? 1.0f : 0.0f;
    if (coin) erase = (un[2 * T] < p ? 1.0f : 0.0f) * erase;
    out[0][n] = erase;
    out[1][n] = std::floor(offsets[0] * ((H - h) + 1.0f));
    out[2][n] = std::floor(offsets[1] * ((W - w) + 1.0f));
    out[3][n] = h;
    out[4][n] = w;
  }
  return MX_SUCCESS;
}

// ---- lookup ----------------------------------------------------------------------------

MXReturnValue lookup_shape(const std::unordered_map<std::string, std::string>& attrs,
                           std::vector<std::vector<unsigned int>>* in,
                           std::vector<std::vector<unsigned int>>* out) {
  std::vector<float> table;
  if (!attr_list(attrs, "table", &table)) {
    MX_ERROR_MSG << "gluon_aug_lookup: table=\"v0,v1,...\" is needed";
    return MX_FAIL;
  }
  out->at(0) = in->at(0);
  return MX_SUCCESS;
}

MXReturnValue lookup_forward(const std::unordered_map<std::string, std::string>& attrs,
                             std::vector<MXTensor>* inputs, std::vector<MXTensor>* outputs,
                             const OpResource& res) {
  std::vector<float> table;
  attr_list(attrs, "table", &table);
  const float* index = inputs->at(0).data<float>();
  float* out = outputs->at(0).data<float>();
  const int64_t size = inputs->at(0).size();
  for (int64_t i = 0; i < size; ++i) {
    const long k = std::lround(index[i]);
    if (k < 0 || k >= static_cast<long>(table.size())) {
      MX_ERROR_MSG << "gluon_aug_lookup: an index outside the table";
      return MX_FAIL;
    }
    out[i] = table[k];
  }
  return MX_SUCCESS;
}

MXReturnValue pick_inputs(const std::unordered_map<std::string, std::string>& attrs,
                          int* num_in, int* num_out) {
  if (attr_width(attrs) < 1) {
    MX_ERROR_MSG << "gluon_aug_pick: width (the number of values) must be at least 1";
    return MX_FAIL;
  }
  *num_in = attr_width(attrs) + 1;
  *num_out = 1;
  return MX_SUCCESS;
}

MXReturnValue pick_shape(const std::unordered_map<std::string, std::string>& attrs,
                         std::vector<std::vector<unsigned int>>* in,
                         std::vector<std::vector<unsigned int>>* out) {
  for (size_t k = 1; k < in->size(); ++k)
    if (element_count(in->at(k)) != element_count(in->at(0))) {
      MX_ERROR_MSG << "gluon_aug_pick: each value holds as many values as index";
      return MX_FAIL;
    }
  out->at(0) = in->at(0);
  return MX_SUCCESS;
}

MXReturnValue pick_forward(const std::unordered_map<std::string, std::string>& attrs,
                           std::vector<MXTensor>* inputs, std::vector<MXTensor>* outputs,
                           const OpResource& res) {
  const int width = attr_width(attrs);
  const float* index = inputs->at(0).data<float>();
  float* out = outputs->at(0).data<float>();
  const int64_t size = inputs->at(0).size();
  for (int64_t n = 0; n < size; ++n) {
    const long k = std::lround(index[n]);
    if (k < 0 || k >= width) {
      MX_ERROR_MSG << "gluon_aug_pick: an index outside the values";
      return MX_FAIL;
    }
    out[n] = inputs->at(1 + k).data<float>()[n];
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

// ---- policy stage ----------------------------------------------------------------------

// a sample's op in gluon_aug_policy_stage (policy_ops.KERNEL_OPS holds the same numbers)
enum PolicyOp { kCopy = 0, kAffine = 1, kColor = 2, kContrast = 3, kBrightness = 4,
                kSharpness = 5, kPosterize = 6, kSolarize = 7, kEqualize = 8,
                kAutoContrast = 9, kInvert = 10 };

const float LEVELS = 255.0f;

inline float level_of(float v) { return std::nearbyint(v * LEVELS); }   // np.round(x * 255)

// PIL's Image.blend on the levels, truncated, back in [0, 1] (policy_ops.blend)
inline float blend_level(float degenerate, float v, float f) {
  return std::floor(std::min(std::max(degenerate + f * (v - degenerate), 0.0f), LEVELS)) / LEVELS;
}

// PIL's RGB -> L on the levels (policy_ops.gray_levels)
inline float gray_level(float r, float g, float b) {
  return std::floor((r * 19595.0f + g * 38470.0f + b * 7471.0f) / 65536.0f + 0.5f);
}

// every value's level, nearbyint(v * 255), into `lev` (one vector pass; the ops below read
// an image's levels several times, from a scratch plane in cache)
void levels(const float* __restrict src, float* __restrict lev, int64_t n) {
  for (int64_t p = 0; p < n; ++p) lev[p] = level_of(src[p]);
}

// a level as an index into 256 bins: clamped to [0, 255], NaN to 0 (no read out of bounds)
inline int bin_of(float level) {
  return static_cast<int>(level > 0 ? (level < LEVELS ? level : LEVELS) : 0.0f);
}

// output pixel (i, j) reads (a X + b Y + c, d X + e Y + f), X, Y = j + 0.5, i + 0.5
// (policy_ops.affine), the nearest pixel's value; outside pixels take the fill.
// Branch-free per pixel, so the rows run as vector code: every index is clamped into the
// image (or 0 for a NaN coordinate).
void nearest_rows(const float* m, const float* fill, const float* __restrict src,
                  float* __restrict dst, int64_t H, int64_t W) {
  const int64_t P = H * W;
  const int w = static_cast<int>(W);
  const float Hf = static_cast<float>(H), Wf = static_cast<float>(W);
  auto clamp = [](float v, float size) { return std::min(std::max(v, 0.0f), size - 1); };
  const float f0 = fill[0], f1 = fill[1], f2 = fill[2];
  for (int64_t i = 0; i < H; ++i) {
    const float Y = static_cast<float>(i) + 0.5f;
    float* __restrict d0 = dst + i * W;
    float* __restrict d1 = d0 + P;
    float* __restrict d2 = d1 + P;
    for (int64_t j = 0; j < W; ++j) {
      const float X = static_cast<float>(j) + 0.5f;
      const float xs = m[0] * X + m[1] * Y + m[2], ys = m[3] * X + m[4] * Y + m[5];
      const bool inside = (xs >= 0) & (xs < Wf) & (ys >= 0) & (ys < Hf);   // no branches
      const float xc = inside ? xs : 0.0f, yc = inside ? ys : 0.0f;   // no NaN below
      const int q = static_cast<int>(clamp(std::floor(yc), Hf)) * w +
                    static_cast<int>(clamp(std::floor(xc), Wf));
      // a blend, not a select: a select lets the compiler make the loads conditional,
      // and masked gathers keep this loop scalar (exact for the finite values in [0, 1])
      const float in = inside ? 1.0f : 0.0f, out = 1.0f - in;
      d0[j] = src[q] * in + f0 * out;
      d1[j] = src[P + q] * in + f1 * out;
      d2[j] = src[2 * P + q] * in + f2 * out;
    }
  }
}

typedef float v4f __attribute__((vector_size(16)));

inline v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The same map, bilinear on the levels (policy_ops.affine): each output value is
// floor(top + (bottom - top) dy) / 255 with top = g00 + (g01 - g00) dx (and bottom alike)
// from the four taps around the source point, the taps' indices clamped into the image.
// The levels go first into a scratch of (H + 2) x (W + 2) pixels of four floats (r, g, b
// and 0), its border repeating the image's edge: a pixel's two taps in a row are then
// neighbours whatever the clamping, and each tap is one 16-byte load for all three
// channels, computed in the same float32 operations as the planes would be (so the same
// values), where gathers by index cost ~1.7 cycles per value on AMD's Zen 4.
void bilinear_rows(const float* m, const float* fill, const float* __restrict src,
                   float* __restrict dst, int64_t H, int64_t W) {
  const int64_t P = H * W, Wp = W + 2;
  const float Hf = static_cast<float>(H), Wf = static_cast<float>(W);
  static thread_local std::vector<float> scratch;   // each thread's, kept between calls
  const size_t need = static_cast<size_t>(4 * (H + 2) * Wp + 7 * W);
  if (scratch.size() < need) scratch.resize(need);
  float* __restrict grid = scratch.data();
  float* __restrict row = grid + 4 * (H + 2) * Wp + 4 * W;   // a row's levels, 3 W
  const size_t pixel = 4 * sizeof(float);
  for (int64_t i = 0; i < H; ++i) {   // rows 1 .. H, then the border
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t j = 0; j < W; ++j) row[c * W + j] = level_of(src[c * P + i * W + j]);
    float* __restrict g = grid + 4 * (i + 1) * Wp;
    for (int64_t j = 0; j < W; ++j) {
      const v4f v = {row[j], row[W + j], row[2 * W + j], 0.0f};
      std::memcpy(g + 4 * (j + 1), &v, pixel);
    }
    std::memcpy(g, g + 4, pixel);
    std::memcpy(g + 4 * (W + 1), g + 4 * W, pixel);
  }
  std::memcpy(grid, grid + 4 * Wp, Wp * pixel);
  std::memcpy(grid + 4 * (H + 1) * Wp, grid + 4 * H * Wp, Wp * pixel);
  int32_t* __restrict base = reinterpret_cast<int32_t*>(grid + 4 * (H + 2) * Wp);
  float* __restrict tdx = grid + 4 * (H + 2) * Wp + W;
  float* __restrict tdy = tdx + W;
  float* __restrict tin = tdy + W;
  const v4f fill4 = {fill[0], fill[1], fill[2], 0.0f};
  for (int64_t i = 0; i < H; ++i) {
    const float Y = static_cast<float>(i) + 0.5f;
    for (int64_t j = 0; j < W; ++j) {   // the row's taps: vector code
      const float X = static_cast<float>(j) + 0.5f;
      const float xs = m[0] * X + m[1] * Y + m[2], ys = m[3] * X + m[4] * Y + m[5];
      const bool inside = (xs >= 0) & (xs < Wf) & (ys >= 0) & (ys < Hf);
      const float xb = (inside ? xs : 0.0f) - 0.5f, yb = (inside ? ys : 0.0f) - 0.5f;
      const float fx0 = std::floor(xb), fy0 = std::floor(yb);   // -1 .. size - 1
      base[j] = static_cast<int32_t>(fy0 + 1.0f) * static_cast<int32_t>(Wp) +
                static_cast<int32_t>(fx0 + 1.0f);
      tdx[j] = xb - fx0;
      tdy[j] = yb - fy0;
      tin[j] = inside ? 1.0f : 0.0f;   // a blend with the fill, as nearest_rows
    }
    float* __restrict d0 = dst + i * W;
    float* __restrict d1 = d0 + P;
    float* __restrict d2 = d1 + P;
    for (int64_t j = 0; j < W; ++j) {   // three channels at once, from four loads
      const float* t = grid + 4 * static_cast<int64_t>(base[j]);
      const v4f g00 = load4(t), g01 = load4(t + 4);
      const v4f g10 = load4(t + 4 * Wp), g11 = load4(t + 4 * Wp + 4);
      const float dx = tdx[j], dy = tdy[j], in = tin[j];
      const v4f top = g00 + (g01 - g00) * dx;
      const v4f bottom = g10 + (g11 - g10) * dx;
      v4f v = top + (bottom - top) * dy;
      for (int c = 0; c < 4; ++c) v[c] = std::floor(v[c]);
      v = v / LEVELS * in + fill4 * (1.0f - in);
      d0[j] = v[0];
      d1[j] = v[1];
      d2[j] = v[2];
    }
  }
}

// the affine op on one image; `lev` a scratch for its levels
void affine_image(const float* m, bool bilinear, const float* fill, const float* __restrict src,
                  float* __restrict dst, float* __restrict lev, int64_t H, int64_t W) {
  const int64_t P = H * W;
  const bool identity = m[0] == 1 && m[1] == 0 && m[2] == 0 && m[3] == 0 && m[4] == 1 &&
                        m[5] == 0;
  if (!bilinear) {
    if (identity)   // reads (j + 0.5, i + 0.5): pixel (i, j) itself
      std::memcpy(dst, src, 3 * P * sizeof(float));
    else
      nearest_rows(m, fill, src, dst, H, W);
    return;
  }
  if (identity) {   // dx = dy = 0: each pixel's own level, truncated
    levels(src, lev, 3 * P);
    for (int64_t p = 0; p < 3 * P; ++p) dst[p] = lev[p] / LEVELS;
    return;
  }
  bilinear_rows(m, fill, src, dst, H, W);
}

// PIL's ImageOps.equalize on one channel (policy_ops.equalize); `bins` a scratch of P bytes
void equalize_plane(const float* __restrict src, float* __restrict dst,
                    uint8_t* __restrict bins, int64_t P) {
  for (int64_t p = 0; p < P; ++p) bins[p] = static_cast<uint8_t>(bin_of(level_of(src[p])));
  int32_t hist[4][256] = {};   // four histograms, so that neighbouring pixels do not wait
  int64_t p = 0;
  for (; p + 4 <= P; p += 4)
    for (int k = 0; k < 4; ++k) ++hist[k][bins[p + k]];
  for (; p < P; ++p) ++hist[0][bins[p]];
  float under[256], lut[256];
  int64_t below = 0;
  int highest = 0;
  for (int l = 0; l < 256; ++l) {
    const int64_t count = int64_t{hist[0][l]} + hist[1][l] + hist[2][l] + hist[3][l];
    under[l] = static_cast<float>(below);
    below += count;
    if (count) highest = l;
  }
  const float step = std::floor(under[highest] / LEVELS);
  for (int l = 0; l < 256; ++l)
    lut[l] = (step == 0 ? static_cast<float>(l)
                        : std::min(std::floor((std::floor(step / 2) + under[l]) / step), LEVELS)) /
             LEVELS;
  for (int64_t q = 0; q < P; ++q) dst[q] = lut[bins[q]];
}

// PIL's ImageOps.autocontrast on one channel (policy_ops.autocontrast), from its levels
void autocontrast_plane(const float* __restrict lev, float* __restrict dst, int64_t P) {
  int lo_bin = 255, hi_bin = 0;   // as integers: a vector min / max
  for (int64_t p = 0; p < P; ++p) {
    const int v = static_cast<int>(lev[p]);
    lo_bin = std::min(lo_bin, v);
    hi_bin = std::max(hi_bin, v);
  }
  const float lo = static_cast<float>(lo_bin), hi = static_cast<float>(hi_bin);
  if (hi <= lo) {
    for (int64_t p = 0; p < P; ++p) dst[p] = lev[p] / LEVELS;
    return;
  }
  const float scale = LEVELS / std::max(hi - lo, 1.0f);
  for (int64_t p = 0; p < P; ++p) {
    const float v = lev[p] * scale - lo * scale;
    dst[p] = std::floor(std::min(std::max(v, 0.0f), LEVELS)) / LEVELS;
  }
}

// one sample's op on its image, planes src -> dst (policy_ops' twins); `lev` a scratch
// of 3 H W floats
void policy_image(int op, float value, const float* m, bool bilinear, const float* fill,
                  const float* __restrict src, float* __restrict dst, float* __restrict lev,
                  int64_t H, int64_t W) {
  const int64_t P = H * W;
  switch (op) {
    case kAffine:
      affine_image(m, bilinear, fill, src, dst, lev, H, W);
      return;
    case kInvert:
      for (int64_t p = 0; p < 3 * P; ++p) dst[p] = 1.0f - src[p];
      return;
    case kBrightness:
      for (int64_t p = 0; p < 3 * P; ++p) dst[p] = blend_level(0.0f, level_of(src[p]), value);
      return;
    case kColor: {
      const float* __restrict r0 = src;
      const float* __restrict g0 = src + P;
      const float* __restrict b0 = src + 2 * P;
      float* __restrict r1 = dst;
      float* __restrict g1 = dst + P;
      float* __restrict b1 = dst + 2 * P;
      for (int64_t p = 0; p < P; ++p) {
        const float r = level_of(r0[p]), g = level_of(g0[p]), b = level_of(b0[p]);
        const float gray = gray_level(r, g, b);
        r1[p] = blend_level(gray, r, value);
        g1[p] = blend_level(gray, g, value);
        b1[p] = blend_level(gray, b, value);
      }
      return;
    }
    case kContrast: {
      // the sum of integer levels, in integers: exact, as the float32 sum of up to 2 ** 24
      int64_t sum = 0;
      for (int64_t p = 0; p < P; ++p)
        sum += static_cast<int64_t>(
            gray_level(level_of(src[p]), level_of(src[P + p]), level_of(src[2 * P + p])));
      const float mean = std::floor(static_cast<float>(sum) / static_cast<float>(P) + 0.5f);
      for (int64_t p = 0; p < 3 * P; ++p) dst[p] = blend_level(mean, level_of(src[p]), value);
      return;
    }
    case kSharpness:   // PIL's SMOOTH filter (4 in the middle, 1 around, / 13) inside
      levels(src, lev, 3 * P);
      for (int c = 0; c < 3; ++c) {
        const float* __restrict s = lev + c * P;
        float* __restrict d = dst + c * P;
        for (int64_t i = 0; i < H; ++i) {
          const float* __restrict up = s + (i - 1) * W;
          const float* __restrict row = s + i * W;
          const float* __restrict down = s + (i + 1) * W;
          const bool inner = i >= 1 && i < H - 1;
          if (!inner) {   // the border: its own level is its smooth one
            for (int64_t j = 0; j < W; ++j) d[i * W + j] = blend_level(row[j], row[j], value);
            continue;
          }
          d[i * W] = blend_level(row[0], row[0], value);
          d[i * W + W - 1] = blend_level(row[W - 1], row[W - 1], value);
          for (int64_t j = 1; j < W - 1; ++j) {   // the sum in policy_ops' order
            const float v = row[j];
            float total = 4 * v;
            total += up[j - 1]; total += up[j]; total += up[j + 1];
            total += row[j - 1]; total += row[j]; total += row[j + 1];
            total += down[j - 1]; total += down[j]; total += down[j + 1];
            d[i * W + j] = blend_level(std::floor(total / 13.0f + 0.5f), v, value);
          }
        }
      }
      return;
    case kPosterize: {
      const float step = std::pow(2.0f, 8.0f - value);
      for (int64_t p = 0; p < 3 * P; ++p)
        dst[p] = std::floor(level_of(src[p]) / step) * step / LEVELS;
      return;
    }
    case kSolarize:
      for (int64_t p = 0; p < 3 * P; ++p) {
        const float v = level_of(src[p]);
        const float above = v >= value ? 1.0f : 0.0f;
        dst[p] = (v + above * (LEVELS - 2 * v)) / LEVELS;
      }
      return;
    case kEqualize:   // the scratch as bytes: one channel's bins
      for (int c = 0; c < 3; ++c)
        equalize_plane(src + c * P, dst + c * P, reinterpret_cast<uint8_t*>(lev), P);
      return;
    case kAutoContrast:
      levels(src, lev, 3 * P);
      for (int c = 0; c < 3; ++c) autocontrast_plane(lev + c * P, dst + c * P, P);
      return;
    default:   // kCopy (Identity in a policy without geometric ops)
      std::memcpy(dst, src, 3 * P * sizeof(float));
  }
}

// One sample's (code, value, a..f) from its op index and value, as policies.py's stage and
// policy_ops.geometry_matrix compute them with MXNet's operators (float32, the same order):
// table[index] is the op's code, or -1 .. -5 for ShearX, ShearY, TranslateX, TranslateY and
// Rotate, whose value goes into the matrix (mask x value; 0 for a kind the stage lacks).
bool stage_params(const std::vector<float>& table, float index, float value, float H,
                  float W, float* q) {
  const long k = std::lround(index);
  if (k < 0 || k >= static_cast<long>(table.size())) return false;
  const int code = static_cast<int>(table[k]);
  bool present[6] = {false, false, false, false, false, false};
  for (float t : table)
    if (t < 0.0f && t >= -5.0f) present[static_cast<int>(-t)] = true;
  const bool geometric = present[1] || present[2] || present[3] || present[4] || present[5];
  q[0] = static_cast<float>(code < 0 ? kAffine : code);
  q[1] = value;
  for (int j = 2; j < 8; ++j) q[j] = 0.0f;
  if (!geometric) return true;
  float shift[6];   // per kind: mask x value, as the masks path
  for (int kind = 1; kind <= 5; ++kind)
    shift[kind] = present[kind] ? (code == -kind ? 1.0f : 0.0f) * value : 0.0f;
  const float theta = shift[5] * static_cast<float>(-3.141592653589793 / 180);
  const float c = std::cos(theta), s = std::sin(theta);
  const float cx = W / 2.0f, cy = H / 2.0f;
  q[2] = c;
  q[3] = s + shift[1];
  q[4] = c * -cx + s * -cy + cx + shift[3];
  q[5] = -s + shift[2];
  q[6] = c;
  q[7] = -s * -cx + c * -cy + cy + shift[4];
  return true;
}

MXReturnValue policy_shape(const std::unordered_map<std::string, std::string>& attrs,
                           std::vector<std::vector<unsigned int>>* in,
                           std::vector<std::vector<unsigned int>>* out) {
  const auto& x = in->at(0);
  const auto& params = in->at(1);
  const bool ok = attrs.count("ops")
      ? x.size() == 4 && x[1] == 3 && element_count(in->at(1)) == x[0] &&
        element_count(in->at(2)) == x[0]
      : x.size() == 4 && x[1] == 3 && params.size() == 2 && params[0] == x[0] &&
        params[1] == 8;
  if (!ok) {
    MX_ERROR_MSG << "gluon_aug_policy_stage: x (N, 3, H, W) and params (N, 8), or with ops "
                    "an op index and a value per sample (N values each)";
    return MX_FAIL;
  }
  out->at(0) = x;
  return MX_SUCCESS;
}

MXReturnValue policy_inputs(const std::unordered_map<std::string, std::string>& attrs,
                            int* num_in, int* num_out) {
  *num_in = attrs.count("ops") ? 3 : 2;   // x and params, or x, op indices and values
  *num_out = 1;
  return MX_SUCCESS;
}

MXReturnValue policy_forward(const std::unordered_map<std::string, std::string>& attrs,
                             std::vector<MXTensor>* inputs, std::vector<MXTensor>* outputs,
                             const OpResource& res) {
  MXTensor& xt = inputs->at(0);
  const int64_t N = xt.shape[0], H = xt.shape[2], W = xt.shape[3];
  const float* x = xt.data<float>();
  const float* params = inputs->at(1).data<float>();
  float* out = outputs->at(0).data<float>();
  const bool bilinear = attr_float(attrs, "bilinear", 0.0f) != 0.0f;
  double rgb[3] = {0, 0, 0};   // the fill's levels, one per channel ("r,g,b")
  auto it = attrs.find("fill");
  if (it != attrs.end() &&
      std::sscanf(it->second.c_str(), "%lf,%lf,%lf", rgb, rgb + 1, rgb + 2) != 3) {
    MX_ERROR_MSG << "gluon_aug_policy_stage: fill is \"r,g,b\", three levels";
    return MX_FAIL;
  }
  const float fill[3] = {static_cast<float>(rgb[0] / 255.0), static_cast<float>(rgb[1] / 255.0),
                         static_cast<float>(rgb[2] / 255.0)};   // in [0, 1], as x
  std::vector<float> table;   // with `ops`: each op index's code (geometric: -1 .. -5)
  attr_list(attrs, "ops", &table);
  std::vector<float> resolved;   // (N, 8) from the op indices (params) and values
  const float* values = table.empty() ? nullptr : inputs->at(2).data<float>();
  if (!table.empty()) {
    resolved.resize(8 * N);
    for (int64_t n = 0; n < N; ++n)
      if (!stage_params(table, params[n], values[n], static_cast<float>(H),
                        static_cast<float>(W), resolved.data() + 8 * n)) {
        MX_ERROR_MSG << "gluon_aug_policy_stage: an op index outside ops";
        return MX_FAIL;
      }
    params = resolved.data();
  }
#pragma omp parallel
  {
    // each thread's scratch for one image's levels, kept between calls (no allocation and
    // no page faults per batch)
    static thread_local std::vector<float> lev;
    if (lev.size() < static_cast<size_t>(3 * H * W)) lev.resize(3 * H * W);
#pragma omp for schedule(dynamic, 1)
    for (int64_t n = 0; n < N; ++n) {
      const float* q = params + 8 * n;
      policy_image(static_cast<int>(std::lround(q[0])), q[1], q + 2, bilinear, fill,
                   x + n * 3 * H * W, out + n * 3 * H * W, lev.data(), H, W);
    }
  }
  return MX_SUCCESS;
}

// ---- AugMix's mixing --------------------------------------------------------------------

MXReturnValue mix_inputs(const std::unordered_map<std::string, std::string>& attrs,
                         int* num_in, int* num_out) {
  const int width = attr_width(attrs);
  if (width < 1) {
    MX_ERROR_MSG << "gluon_aug_mix: width (the number of chains) must be at least 1";
    return MX_FAIL;
  }
  *num_in = width + 3;
  *num_out = 1;
  return MX_SUCCESS;
}

MXReturnValue mix_shape(const std::unordered_map<std::string, std::string>& attrs,
                        std::vector<std::vector<unsigned int>>* in,
                        std::vector<std::vector<unsigned int>>* out) {
  const int width = attr_width(attrs);
  const auto& x = in->at(0);
  bool ok = x.size() >= 1;
  for (int k = 1; k <= width; ++k) ok = ok && in->at(k) == x;
  const auto& weights = in->at(width + 1);
  const auto& m = in->at(width + 2);
  ok = ok && weights.size() == 2 && weights[0] == x[0] && weights[1] == static_cast<unsigned>(width)
       && m.size() == 2 && m[0] == x[0] && m[1] == 1;
  if (!ok) {
    MX_ERROR_MSG << "gluon_aug_mix: x and each chain (N, ...) alike, weights (N, width), m (N, 1)";
    return MX_FAIL;
  }
  out->at(0) = x;
  return MX_SUCCESS;
}

MXReturnValue mix_forward(const std::unordered_map<std::string, std::string>& attrs,
                          std::vector<MXTensor>* inputs, std::vector<MXTensor>* outputs,
                          const OpResource& res) {
  const int width = attr_width(attrs);
  MXTensor& xt = inputs->at(0);
  const int64_t N = xt.shape[0];
  const int64_t S = xt.size() / N;   // values per sample
  const float* x = xt.data<float>();
  std::vector<const float*> chains(width);
  for (int k = 0; k < width; ++k) chains[k] = inputs->at(1 + k).data<float>();
  const float* weights = inputs->at(width + 1).data<float>();
  const float* m = inputs->at(width + 2).data<float>();
  float* out = outputs->at(0).data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    const float mn = m[n], keep = 1.0f - mn;
    const float* w = weights + n * width;
    const float* __restrict xs = x + n * S;
    float* __restrict o = out + n * S;
    for (int64_t p = 0; p < S; ++p) o[p] = 0.0f;   // the sum starts at 0, as BatchAugMix's
    for (int k = 0; k < width; ++k) {   // chain by chain, as BatchAugMix.apply adds them
      const float* __restrict c = chains[k] + n * S;
      const float wk = w[k];
      for (int64_t p = 0; p < S; ++p) o[p] = o[p] + wk * c[p];
    }
    for (int64_t p = 0; p < S; ++p) o[p] = keep * xs[p] + mn * o[p];
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
.setParseAttrs(resample_inputs)
.setInferType(float_types)
.setInferShape(resample_shape)
.setForward(resample_forward, "cpu")
.setBackward(no_gradient, "cpu");

REGISTER_OP(gluon_aug_taps)
.setParseAttrs(taps_inputs)
.setInferType(float_types)
.setInferShape(taps_shape)
.setForward(taps_forward, "cpu")
.setBackward(no_gradient, "cpu");

REGISTER_OP(gluon_aug_erase)
.setParseAttrs(inputs_and_one_output<2>)
.setInferType(float_types)
.setInferShape(erase_shape)
.setForward(erase_forward, "cpu")
.setBackward(no_gradient, "cpu");

REGISTER_OP(gluon_aug_boxes)
.setParseAttrs(boxes_outputs)
.setInferType(boxes_types)
.setInferShape(boxes_shape)
.setForward(boxes_forward, "cpu")
.setBackward(no_gradient, "cpu");

REGISTER_OP(gluon_aug_lookup)
.setParseAttrs(inputs_and_one_output<1>)
.setInferType(float_types)
.setInferShape(lookup_shape)
.setForward(lookup_forward, "cpu")
.setBackward(no_gradient, "cpu");

REGISTER_OP(gluon_aug_pick)
.setParseAttrs(pick_inputs)
.setInferType(float_types)
.setInferShape(pick_shape)
.setForward(pick_forward, "cpu")
.setBackward(no_gradient, "cpu");

REGISTER_OP(gluon_aug_color)
.setParseAttrs(inputs_and_one_output<3>)
.setInferType(float_types)
.setInferShape(color_shape)
.setForward(color_forward, "cpu")
.setBackward(no_gradient, "cpu");

REGISTER_OP(gluon_aug_policy_stage)
.setParseAttrs(policy_inputs)
.setInferType(float_types)
.setInferShape(policy_shape)
.setForward(policy_forward, "cpu")
.setBackward(no_gradient, "cpu");

REGISTER_OP(gluon_aug_mix)
.setParseAttrs(mix_inputs)
.setInferType(float_types)
.setInferShape(mix_shape)
.setForward(mix_forward, "cpu")
.setBackward(no_gradient, "cpu");

MXReturnValue initialize(int version) {
  return MX_SUCCESS;
}
