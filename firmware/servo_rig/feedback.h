// Feedback pots on A0.. read by the ADC in the background, one conversion per loop pass at most.
#pragma once

#include <stdint.h>

#include "config.h"

// True when channel `ch` has a feedback pot wired (compile-time choice).
static inline bool feedback_wired(uint8_t ch) { return ch < RIG_FEEDBACK_CHANNELS; }
// Start the first conversion.
void feedback_begin();
// Collect a finished conversion and start the next; returns at once.
void feedback_poll();
// Latest ADC reading (0-1023) of channel `ch`'s pot; -1 when none is wired or none read yet.
int16_t feedback_adc(uint8_t ch);
// ADC reading expected when the servo sits at `us` microseconds.
int16_t feedback_expected(uint16_t us);
// Pulse width in microseconds that an ADC reading corresponds to (clamped to 500-2500).
uint16_t feedback_to_us(int16_t adc);
