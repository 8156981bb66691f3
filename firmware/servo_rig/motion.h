// Slewed moves with the backlash rule, the settle time and stall detection, advanced every loop pass.
#pragma once

#include <stdint.h>

#include "config.h"

enum MoveState : uint8_t {
    MOVE_NONE,      // no move since reset
    MOVE_RUNNING,   // channels slewing (or waiting for their feedback)
    MOVE_SETTLING,  // every channel on target; DONE after the settle time
    MOVE_DONE,      // finished: DONE sent
    MOVE_FAILED,    // finished: ERR sent (error says which)
};

enum ErrCode : uint8_t { E_NONE, E_SYNTAX, E_CHANNEL, E_RANGE, E_BUSY, E_STOPPED, E_STALL };

struct Channel {
    uint16_t pos_us;     // last commanded pulse; 0 = never commanded since reset
    uint16_t goal_us;    // where the slew heads now: the undershoot first, then the target
    uint16_t target_us;  // where the move ends
    bool attached;
    bool on_target;      // the commanded pulse has reached the target
    uint32_t on_target_ms;
};

struct Move {
    uint16_t id;
    uint16_t hash;     // of the command line, to recognise a resent MOVE
    MoveState state;
    ErrCode error;     // why a failed move failed
    uint8_t stall_ch;  // the channel that stalled (E_STALL)
    uint16_t members;  // one bit per channel named in the MOVE
    uint16_t speed_us_per_s;
    uint32_t step_acc;  // microsecond-rate remainder, so the slew rate is exact over time
    uint32_t last_us;
    uint32_t settle_ms;
};

extern Channel g_channels[RIG_CHANNELS];
extern Move g_move;

// All channels detached, position unknown.
void motion_begin();
// True while a MOVE is running or settling (a new MOVE gets E_BUSY).
bool motion_busy();
// Slew rate for moves started from now on, in microseconds per second.
void motion_set_speed(uint16_t us_per_s);
// Start a move of `n` channels to their pulse widths; the caller has checked channels and ranges.
void motion_start(uint16_t id, uint16_t hash, const uint8_t *chs, const uint16_t *us, uint8_t n,
                  uint32_t now_us, uint32_t now_ms);
// Advance the move; returns MOVE_DONE or MOVE_FAILED on the pass that finishes it, else MOVE_NONE.
MoveState motion_poll(uint32_t now_us, uint32_t now_ms);
// Halt all motion where it is (channels hold); returns true if a move was running (now E_STOPPED).
bool motion_stop();
// Stop the pulses on one channel; its last commanded pulse is kept. A running move carries on
// without it.
void motion_detach(uint8_t ch);
