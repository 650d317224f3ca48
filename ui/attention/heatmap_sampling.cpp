#include "ui/attention/heatmap_sampling.h"

#include <algorithm>
#include <cmath>

namespace attnx::ui {

std::vector<float> poolExtreme(const float* m, int n, int row0, int row1, int col0, int col1, int outRows, int outCols) {
  row0 = std::clamp(row0, 0, n);
  row1 = std::clamp(row1, row0, n);
  col0 = std::clamp(col0, 0, n);
  col1 = std::clamp(col1, col0, n);
  const int rows = row1 - row0, cols = col1 - col0;
  outRows = std::clamp(outRows, rows > 0 ? 1 : 0, rows);
  outCols = std::clamp(outCols, cols > 0 ? 1 : 0, cols);
  std::vector<float> out(static_cast<size_t>(outRows) * outCols, 0.0f);
  for (int r = 0; r < outRows; ++r) {
    const int rBegin = row0 + static_cast<int>(static_cast<long long>(r) * rows / outRows);
    const int rEnd = row0 + static_cast<int>(static_cast<long long>(r + 1) * rows / outRows);
    for (int c = 0; c < outCols; ++c) {
      const int cBegin = col0 + static_cast<int>(static_cast<long long>(c) * cols / outCols);
      const int cEnd = col0 + static_cast<int>(static_cast<long long>(c + 1) * cols / outCols);
      float best = 0.0f;
      for (int i = rBegin; i < rEnd; ++i) {
        const float* row = m + static_cast<size_t>(i) * n;
        for (int j = cBegin; j < cEnd; ++j)
          if (std::fabs(row[j]) > std::fabs(best)) best = row[j];
      }
      out[static_cast<size_t>(r) * outCols + c] = best;
    }
  }
  return out;
}

std::vector<float> difference(const float* teacher, const float* student, int n) {
  std::vector<float> d(static_cast<size_t>(n) * n);
  for (size_t i = 0; i < d.size(); ++i) d[i] = teacher[i] - student[i];
  return d;
}

}  // namespace attnx::ui
