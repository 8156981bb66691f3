// Servo rig firmware for an ATmega328P (Uno/Nano): protocol v1 over USB serial at 115200 baud.
// One main loop, never waiting: serial, motion, settle, feedback and watchdog are each a small
// state advanced from micros()/millis() every pass, so STOP takes effect within one pass.
#include <Arduino.h>
#include <avr/sleep.h>

#include "config.h"
#include "feedback.h"
#include "motion.h"
#include "protocol.h"
#include "servo_out.h"

static uint32_t s_last_activity_ms;  // last command, or end of the last move

void setup() {
    // The core's init() left Timer0 in fast PWM and Timer2 in phase-correct PWM for
    // analogWrite(), which this sketch never uses: Timer0 keeps counting for millis() in normal
    // mode (same overflow period), Timer2 stops.
    TCCR0A = 0;
    TCCR2A = 0;
    TCCR2B = 0;
    // INT0/INT1 share D2/D3 with servo outputs. They stay disabled (EIMSK = 0); edge mode instead
    // of the reset default (low level) changes nothing on the chip, but spares simavr polling the
    // pin level on every cycle while the output is low (with the idle sleep below, the
    // simulation runs about a hundred times faster).
    EICRA = _BV(ISC01) | _BV(ISC00) | _BV(ISC11) | _BV(ISC10);
    Serial.begin(115200);
    servo_out_begin();
    motion_begin();
    feedback_begin();
    protocol_begin();
    s_last_activity_ms = millis();
}

void loop() {
    uint32_t now_us = micros();
    uint32_t now_ms = millis();
    if (protocol_poll(now_us, now_ms)) s_last_activity_ms = now_ms;
    feedback_poll();
    if (motion_poll(now_us, now_ms) != MOVE_NONE) protocol_report_move();
    servo_out_poll();
    // Watchdog: a host that went quiet (crashed, unplugged) leaves no servo powered for long.
    // A running move counts as activity: the host is waiting for its DONE.
    if (motion_busy()) {
        s_last_activity_ms = now_ms;
    } else if (now_ms - s_last_activity_ms >= RIG_WATCHDOG_MS) {
        for (uint8_t ch = 0; ch < RIG_CHANNELS; ch++) {
            if (g_channels[ch].attached) motion_detach(ch);
        }
        s_last_activity_ms = now_ms;
    }
    // Idle until the next interrupt: a received byte, a servo edge or the 1 ms millis() tick.
    // Checked with interrupts off, so a byte that arrived during this pass is handled at once.
    set_sleep_mode(SLEEP_MODE_IDLE);
    cli();
    if (Serial.available() == 0) {
        sleep_enable();
        sei();
        sleep_cpu();
        sleep_disable();
    }
    sei();
}
