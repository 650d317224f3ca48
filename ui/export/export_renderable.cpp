#include "ui/export/export_renderable.h"

namespace attnx::ui {

ExportRenderable::~ExportRenderable() = default;  // out of line: one home for the vtable

}  // namespace attnx::ui
