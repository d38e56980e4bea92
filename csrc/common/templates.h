/*
 * templates.h - name building for the C templates (internal).
 *
 * A template (*.inc) is C written once and included several times: once per element
 * type by instantiate.inc (FNN_SFX f32 / f64), and, for the loops that are built per
 * CPU level, once per level by that level's translation unit (FNN_ISA, cpu/cpu.h). It
 * builds its names by pasting: FNN_PASTE(fnn_softmax_rows, FNN_SFX) is
 * fnn_softmax_rows_f32, FNN_NAME(fnn_act_forward, FNN_SFX, FNN_ISA) is
 * fnn_act_forward_f32_avx2.
 */
#ifndef FASTNN_TEMPLATES_H
#define FASTNN_TEMPLATES_H

#define FNN_PASTE_(a, b) a##_##b
#define FNN_PASTE(a, b) FNN_PASTE_(a, b)
#define FNN_NAME_(a, b, c) a##_##b##_##c
#define FNN_NAME(a, b, c) FNN_NAME_(a, b, c)
#define FNN_STRING_(x) #x
#define FNN_STRING(x) FNN_STRING_(x)

#endif /* FASTNN_TEMPLATES_H */
