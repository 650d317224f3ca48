// Reducing an (n, n) attention matrix to what a heatmap can show: a block of it pooled into at most
// a given number of cells. Pure functions, no Qt, so they are tested against a naive loop.
#pragma once

#include <vector>

namespace attnx::ui {

// The rows [row0, row1) and columns [col0, col1) of the row-major (n, n) matrix `m`, pooled into
// outRows x outCols cells (each at most the block's own size). Cell (r, c) covers the source rows
// row0 + floor(r * rows / outRows) .. row0 + floor((r + 1) * rows / outRows) - 1, likewise for columns,
// and holds the value of largest magnitude in it: a single strong weight (a sink, the previous
// token) stays visible however far the map is zoomed out, which a mean would wash away.
std::vector<float> poolExtreme(const float* m, int n, int row0, int row1, int col0, int col1, int outRows, int outCols);

// teacher - student, element by element (n * n values).
std::vector<float> difference(const float* teacher, const float* student, int n);

}  // namespace attnx::ui
