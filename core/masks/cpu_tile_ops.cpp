#include "core/masks/cpu_tile_ops.h"

#include <algorithm>
#include <cstring>
#include <limits>

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#endif
#ifdef ATTNX_HAVE_AVX2_PATHS  // cpu_tile_ops.h
#include <immintrin.h>
#endif

#include <ATen/ATen.h>

#include "core/masks/sparse_attention_problem.h"  // ATTNX_VECTOR_CLONES

namespace attnx::tile {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

using SgemmFn = void (*)(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
                         const int*, const float*, const int*, const float*, float*, const int*);

// The Fortran sgemm of the BLAS LibTorch itself loaded (OpenBLAS on Debian), found at run time so
// that the project needs no BLAS of its own; null where LibTorch keeps its BLAS private (MKL
// builds), and the products then go through at::addmm_out.
SgemmFn processSgemm() {
#if defined(__unix__) || defined(__APPLE__)
  static const SgemmFn fn = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "sgemm_"));
  return fn;
#else
  return nullptr;
#endif
}

// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands. Columns
// [j0, j0 + m) of C only.
void sgemmColumns(SgemmFn sgemm, bool tA, bool tB, int64_t j0, int64_t cols, int64_t M, int64_t K, float alpha,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const int m = static_cast<int>(cols), n = static_cast<int>(M), k = static_cast<int>(K);
  const int la = static_cast<int>(lda), lb = static_cast<int>(ldb), lc = static_cast<int>(ldc);
  const float* Bj = tB ? B + j0 * ldb : B + j0;
  const char ta = tB ? 'T' : 'N', tb = tA ? 'T' : 'N';
  sgemm(&ta, &tb, &m, &n, &k, &alpha, Bj, &lb, A, &la, &beta, C + j0, &lc);
}

void gemmTorch(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const auto f = at::TensorOptions().dtype(at::kFloat);
  auto a = at::from_blob(const_cast<float*>(A), {tA ? K : M, tA ? M : K}, {lda, 1}, f);
  auto b = at::from_blob(const_cast<float*>(B), {tB ? N : K, tB ? K : N}, {ldb, 1}, f);
  auto c = at::from_blob(C, {M, N}, {ldc, 1}, f);
  if (beta == 0.f) c.zero_();  // BLAS semantics: C is not read when beta = 0 (it may hold NaN)
  at::addmm_out(c, c, tA ? a.t() : a, tB ? b.t() : b, beta, alpha);
}

inline float bitsToFloat(int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}
inline int32_t floatToBits(float f) {
  int32_t i;
  std::memcpy(&i, &f, sizeof i);
  return i;
}

// The two loops over every attended pair, max and exp, written with AVX2 intrinsics: GCC does not
// vectorise them from plain C++ here (the clamp and select of fastExp keep it scalar).
#ifdef ATTNX_HAVE_AVX2_PATHS

// fastExp on 8 lanes.
__attribute__((target("avx2,fma"))) inline __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.f);
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 result = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
  return _mm256_blendv_ps(result, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
}

__attribute__((target("avx2,fma"))) float rowMaxAvx2(const float* s, int64_t n) {
  __m256 m0 = _mm256_set1_ps(kNegInf), m1 = m0;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    m0 = _mm256_max_ps(m0, _mm256_loadu_ps(s + j));
    m1 = _mm256_max_ps(m1, _mm256_loadu_ps(s + j + 8));
  }
  alignas(32) float lane[8];
  _mm256_store_ps(lane, _mm256_max_ps(m0, m1));
  float m = kNegInf;
  for (float x : lane) m = m > x ? m : x;
  for (; j < n; ++j) m = m > s[j] ? m : s[j];
  return m;
}

__attribute__((target("avx2,fma"))) float expShiftSumAvx2(float* s, int64_t n, float shift) {
  const __m256 sh = _mm256_set1_ps(shift);
  __m256 sum0 = _mm256_setzero_ps(), sum1 = sum0;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m256 e0 = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), sh));
    const __m256 e1 = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j + 8), sh));
    _mm256_storeu_ps(s + j, e0);
    _mm256_storeu_ps(s + j + 8, e1);
    sum0 = _mm256_add_ps(sum0, e0);
    sum1 = _mm256_add_ps(sum1, e1);
  }
  alignas(32) float lane[8];
  _mm256_store_ps(lane, _mm256_add_ps(sum0, sum1));
  float sum = 0.f;
  for (float x : lane) sum += x;
  for (; j < n; ++j) {
    s[j] = fastExp(s[j] - shift);
    sum += s[j];
  }
  return sum;
}
#endif

}  // namespace

bool cpuHasAvx2Fma() {
#ifdef ATTNX_HAVE_AVX2_PATHS
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
#else
  return false;
#endif
}

void gemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (const SgemmFn sgemm = processSgemm()) {
    const int64_t step = std::max<int64_t>(1, kSingleThreadGemm / std::max<int64_t>(1, M * K));
    for (int64_t j0 = 0; j0 < N; j0 += step)
      sgemmColumns(sgemm, tA, tB, j0, std::min(step, N - j0), M, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  gemmTorch(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemmWhole(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (const SgemmFn sgemm = processSgemm())
    sgemmColumns(sgemm, tA, tB, 0, N, M, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    gemmTorch(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// Cephes' expf: range reduction by ln 2 in two parts, degree-6 polynomial, ~1 ulp.
float fastExp(float x) {
  const float xc = std::min(std::max(x, -87.f), 88.f);
  const float shifter = 12582912.f;  // 1.5 * 2^23: adding it rounds to an integer in the low bits
  const float t = xc * 1.44269504088896341f + shifter;
  const float n = t - shifter;
  const int32_t ni = floatToBits(t) - floatToBits(shifter);
  const float r = xc - n * 0.693359375f - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.f;
  const float e = y * bitsToFloat((ni + 127) << 23);
  return x < -87.f ? 0.f : e;
}

float rowMax(const float* s, int64_t n) {
#ifdef ATTNX_HAVE_AVX2_PATHS
  if (cpuHasAvx2Fma()) return rowMaxAvx2(s, n);
#endif
  float m = kNegInf;
  for (int64_t j = 0; j < n; ++j) m = m > s[j] ? m : s[j];
  return m;
}

float expShiftSum(float* s, int64_t n, float shift) {
#ifdef ATTNX_HAVE_AVX2_PATHS
  if (cpuHasAvx2Fma()) return expShiftSumAvx2(s, n, shift);
#endif
  float sum = 0.f;
  for (int64_t j = 0; j < n; ++j) {
    s[j] = fastExp(s[j] - shift);
    sum += s[j];
  }
  return sum;
}

ATTNX_VECTOR_CLONES
void scaleRow(float* __restrict s, float a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) s[j] *= a;
}

}  // namespace attnx::tile
