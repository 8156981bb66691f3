// Servo pulses on D2-D7 from Timer1 compare-match A, one channel after another in a 20 ms frame.
#include "config.h"
#ifdef RIG_OUTPUT_PINS

#include <Arduino.h>
#include <util/atomic.h>

#include "servo_out.h"

// Timer1 counts at F_CPU/8: 2 ticks per microsecond at 16 MHz.
static const uint16_t TICKS_PER_US = F_CPU / 8000000UL;
static const uint16_t FRAME_TICKS = 20000U * TICKS_PER_US;
// A detached channel still takes a short slot so the frame keeps its shape.
static const uint16_t IDLE_SLOT_TICKS = 100U * TICKS_PER_US;
// The compare fires this early and the ISR waits for the exact tick, so other interrupts
// (millis, serial) delaying it by up to this much do not widen or narrow a pulse.
static const uint16_t LEAD_TICKS = 24U * TICKS_PER_US;
static const uint8_t GAP_SLOT = 0xff;

static volatile uint16_t s_width_ticks[RIG_CHANNELS];  // 0 = detached
static uint16_t s_edge;        // timer tick of the edge the next interrupt makes
static uint16_t s_frame_start;
static uint8_t s_slot = GAP_SLOT;  // channel whose pulse ends at s_edge (GAP_SLOT: frame start)

static inline uint8_t pin_mask(uint8_t ch) { return (uint8_t)(1U << (RIG_FIRST_PIN + ch)); }

ISR(TIMER1_COMPA_vect) {
    uint8_t clear = 0;
    uint8_t set = 0;
    uint16_t edge = s_edge;
    uint8_t slot = s_slot;
    if (slot != GAP_SLOT) clear = pin_mask(slot);
    if (slot == GAP_SLOT) {
        slot = 0;
        s_frame_start = edge;
    } else {
        slot++;
    }
    uint16_t next;
    if (slot < RIG_CHANNELS) {
        uint16_t width = s_width_ticks[slot];
        if (width) set = pin_mask(slot);
        next = edge + (width ? width : IDLE_SLOT_TICKS);
    } else {
        slot = GAP_SLOT;
        next = s_frame_start + FRAME_TICKS;
    }
    while ((int16_t)(TCNT1 - edge) < 0) {
    }
    // One write ends this pulse and starts the next: both edges sit at the same offset.
    PORTD = (uint8_t)((PORTD & (uint8_t)~clear) | set);
    s_slot = slot;
    s_edge = next;
    OCR1A = next - LEAD_TICKS;
}

void servo_out_begin() {
    for (uint8_t ch = 0; ch < RIG_CHANNELS; ch++) {
        s_width_ticks[ch] = 0;
        pinMode(RIG_FIRST_PIN + ch, OUTPUT);
        digitalWrite(RIG_FIRST_PIN + ch, LOW);
    }
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
        // The core's init() set Timer1 up for PWM: take it over in normal mode, prescaler 8.
        TCCR1A = 0;
        TCCR1B = 0;
        TCNT1 = 0;
        s_slot = GAP_SLOT;
        s_edge = 1000U * TICKS_PER_US;
        OCR1A = s_edge - LEAD_TICKS;
        TIFR1 = _BV(OCF1A);
        TIMSK1 = _BV(OCIE1A);
        TCCR1B = _BV(CS11);
    }
}

void servo_out_set(uint8_t ch, uint16_t us) {
    uint16_t ticks = us * TICKS_PER_US;
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) { s_width_ticks[ch] = ticks; }
}

void servo_out_detach(uint8_t ch) {
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) { s_width_ticks[ch] = 0; }
}

void servo_out_poll() {}

#endif
