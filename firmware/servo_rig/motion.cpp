// Motion rules of protocol v1: slew at the set speed, end every move from below, settle, stall.
#include "motion.h"

#include <Arduino.h>

#include "feedback.h"
#include "servo_out.h"

Channel g_channels[RIG_CHANNELS];
Move g_move;
static uint16_t s_speed_us_per_s = RIG_DEFAULT_SPEED_US_PER_S;

// Where a move to `target` goes first when coming from above: 40 µs under, never below 500 µs.
static uint16_t undershoot(uint16_t target) {
    return target >= RIG_MIN_US + RIG_BACKLASH_US ? (uint16_t)(target - RIG_BACKLASH_US) : RIG_MIN_US;
}

void motion_begin() {
    for (uint8_t ch = 0; ch < RIG_CHANNELS; ch++) {
        g_channels[ch] = Channel{0, 0, 0, false, false, 0};
    }
    g_move = Move{};
    g_move.state = MOVE_NONE;
}

bool motion_busy() { return g_move.state == MOVE_RUNNING || g_move.state == MOVE_SETTLING; }

void motion_set_speed(uint16_t us_per_s) { s_speed_us_per_s = us_per_s; }

void motion_start(uint16_t id, uint16_t hash, const uint8_t *chs, const uint16_t *us, uint8_t n,
                  uint32_t now_us, uint32_t now_ms) {
    g_move.id = id;
    g_move.hash = hash;
    g_move.state = MOVE_RUNNING;
    g_move.error = E_NONE;
    g_move.members = 0;
    g_move.speed_us_per_s = s_speed_us_per_s;
    g_move.step_acc = 0;
    g_move.last_us = now_us;
    for (uint8_t i = 0; i < n; i++) {
        Channel &c = g_channels[chs[i]];
        uint16_t target = us[i];
        g_move.members |= (uint16_t)(1U << chs[i]);
        if (c.pos_us == 0) {
            // Never commanded since reset: start from the feedback pot if there is one; else the
            // first pulse is the undershoot, as close as we can come without knowing where it is.
            int16_t adc = feedback_adc(chs[i]);
            c.pos_us = adc >= 0 ? feedback_to_us(adc) : undershoot(target);
        }
        c.target_us = target;
        c.goal_us = target < c.pos_us ? undershoot(target) : target;
        c.on_target = c.pos_us == target && c.goal_us == target;
        c.on_target_ms = now_ms;
        c.attached = true;
        servo_out_set(chs[i], c.pos_us);
    }
}

static bool feedback_on_target(uint8_t ch, const Channel &c) {
    int16_t adc = feedback_adc(ch);
    if (!feedback_wired(ch)) return true;
    if (adc < 0) return false;
    int16_t error = adc - feedback_expected(c.target_us);
    return error >= -RIG_FB_TOLERANCE && error <= RIG_FB_TOLERANCE;
}

MoveState motion_poll(uint32_t now_us, uint32_t now_ms) {
    if (g_move.state == MOVE_SETTLING) {
        if (now_ms - g_move.settle_ms < RIG_SETTLE_MS) return MOVE_NONE;
        g_move.state = MOVE_DONE;
        return MOVE_DONE;
    }
    if (g_move.state != MOVE_RUNNING) return MOVE_NONE;

    uint32_t dt_us = now_us - g_move.last_us;
    g_move.last_us = now_us;
    if (dt_us > 100000UL) dt_us = 100000UL;  // dt * speed must stay below 2^32
    g_move.step_acc += dt_us * g_move.speed_us_per_s;
    uint16_t step = (uint16_t)(g_move.step_acc / 1000000UL);
    g_move.step_acc -= (uint32_t)step * 1000000UL;

    bool all_there = true;
    for (uint8_t ch = 0; ch < RIG_CHANNELS; ch++) {
        if (!(g_move.members & (1U << ch))) continue;
        Channel &c = g_channels[ch];
        if (!c.on_target && step) {
            uint16_t pos = c.pos_us;
            if (pos < c.goal_us) {
                pos = (uint16_t)(c.goal_us - pos <= step ? c.goal_us : pos + step);
            } else {
                pos = (uint16_t)(pos - c.goal_us <= step ? c.goal_us : pos - step);
            }
            if (pos == c.goal_us && c.goal_us != c.target_us) c.goal_us = c.target_us;  // now up
            if (pos == c.target_us && c.goal_us == c.target_us) {
                c.on_target = true;
                c.on_target_ms = now_ms;
            }
            c.pos_us = pos;
            servo_out_set(ch, pos);
        }
        if (!c.on_target) {
            all_there = false;
        } else if (!feedback_on_target(ch, c)) {
            all_there = false;
            if (now_ms - c.on_target_ms >= RIG_STALL_MS) {
                // A servo pushing against something draws its stall current: let it go.
                motion_detach(ch);
                g_move.state = MOVE_FAILED;
                g_move.error = E_STALL;
                g_move.stall_ch = ch;
                return MOVE_FAILED;
            }
        }
    }
    if (all_there) {
        g_move.state = MOVE_SETTLING;
        g_move.settle_ms = now_ms;
    }
    return MOVE_NONE;
}

bool motion_stop() {
    if (!motion_busy()) return false;
    for (uint8_t ch = 0; ch < RIG_CHANNELS; ch++) {
        if (!(g_move.members & (1U << ch))) continue;
        Channel &c = g_channels[ch];
        c.goal_us = c.pos_us;  // hold where it is
    }
    g_move.state = MOVE_FAILED;
    g_move.error = E_STOPPED;
    return true;
}

void motion_detach(uint8_t ch) {
    g_channels[ch].attached = false;
    servo_out_detach(ch);
    // Detached mid-move: the move goes on without it (and ends with DONE for the others).
    if (motion_busy()) g_move.members &= (uint16_t)~(1U << ch);
}
