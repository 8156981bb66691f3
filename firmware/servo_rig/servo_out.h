// Servo pulse outputs: pins driven by Timer1 (servo_out_pins.cpp) or a PCA9685 (servo_out_pca9685.cpp).
#pragma once

#include <stdint.h>

// Set up the outputs with every channel detached (no pulses).
void servo_out_begin();
// Send pulses of `us` microseconds on channel `ch` from the next frame on (attaches it).
void servo_out_set(uint8_t ch, uint16_t us);
// Stop the pulse train on channel `ch` (the line stays low).
void servo_out_detach(uint8_t ch);
// Push pending changes to the outputs; called every loop pass, returns at once.
void servo_out_poll();
