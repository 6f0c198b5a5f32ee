//! Readiness on Node's own event loop: one libuv poll handle per watched fd.
//!
//! Node's loop is libuv's, and libuv already watches descriptors with epoll
//! for Node's own sockets. Rather than a thread of our own per descriptor (or
//! even one), we register a `uv_poll_t` on that same loop: when the kernel
//! says a descriptor is readable, writable or hung up, libuv calls us on the
//! main thread between two turns of JavaScript, and we call the watcher's
//! function through `napi_make_callback`, so promises and next-tick work
//! queued by it run as after any other I/O callback. Nothing blocks; timers
//! keep running.
//!
//! Node exports libuv's symbols, so the few we need are declared here by hand
//! and resolved when the addon is loaded. The poll handle's memory is sized
//! by `uv_handle_size`, never by a guess of libuv's struct layout, and its
//! first field, `data`, points back at our state.

use crate::errno::{Result, err, invalid};
use napi::{sys, Env, JsValue, Unknown};
use napi_derive::napi;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::os::raw::c_int;

const UV_POLL: c_int = 8;
pub const READABLE: u32 = 1;
pub const WRITABLE: u32 = 2;
pub const DISCONNECT: u32 = 4;

type PollCb = unsafe extern "C" fn(*mut c_void, c_int, c_int);
type CloseCb = unsafe extern "C" fn(*mut c_void);

extern "C" {
    fn uv_handle_size(kind: c_int) -> usize;
    fn uv_poll_init(lp: *mut sys::uv_loop_s, handle: *mut c_void, fd: c_int) -> c_int;
    fn uv_poll_start(handle: *mut c_void, events: c_int, cb: PollCb) -> c_int;
    fn uv_poll_stop(handle: *mut c_void) -> c_int;
    fn uv_close(handle: *mut c_void, cb: CloseCb);
    fn uv_unref(handle: *mut c_void);
}

struct Watch {
    env: sys::napi_env,
    func: sys::napi_ref,
    ctx: sys::napi_async_context,
    handle: *mut c_void,
    layout: std::alloc::Layout,
}

thread_local! {
    static WATCHES: RefCell<HashMap<u32, Box<Watch>>> = RefCell::new(HashMap::new());
    static NEXT_ID: RefCell<u32> = const { RefCell::new(1) };
}

/// libuv's poll callback: calls the watcher's function with (status, events).
///
/// # Safety
///
/// Only libuv calls this, on Node's main thread and loop, with a poll handle
/// started by `watch` or `watch_update`. Such a handle's first field, `data`,
/// points at the live Watch that `watch` boxed; that Watch is freed only in
/// `on_close`, after the handle stopped delivering events, so it is live for
/// the whole call. Its env is the one whose loop runs the callback.
unsafe extern "C" fn on_poll(handle: *mut c_void, status: c_int, events: c_int) {
    // SAFETY: per this function's contract, `data` points at a live Watch;
    // only shared reads are made through it.
    let w = unsafe { &*(*(handle as *mut *mut Watch)) };
    let (env, func_ref, ctx) = (w.env, w.func, w.ctx);
    let mut scope = std::ptr::null_mut();
    // SAFETY: env is live on this (its own) thread, outside any JavaScript
    // frame, which is exactly where a handle scope must be opened by hand.
    if unsafe { sys::napi_open_handle_scope(env, &mut scope) } != sys::Status::napi_ok {
        return;
    }
    let mut func = std::ptr::null_mut();
    let mut recv = std::ptr::null_mut();
    let mut args = [std::ptr::null_mut(); 2];
    // SAFETY: N-API calls on the live env inside the scope just opened; every
    // out pointer is a local of the right type. The reference was made by
    // `watch` and is deleted only in `release`, which also stops the handle.
    let ok = unsafe {
        sys::napi_get_reference_value(env, func_ref, &mut func) == sys::Status::napi_ok
            && !func.is_null()
            && sys::napi_get_global(env, &mut recv) == sys::Status::napi_ok
            && sys::napi_create_int32(env, status, &mut args[0]) == sys::Status::napi_ok
            && sys::napi_create_uint32(env, events as u32, &mut args[1]) == sys::Status::napi_ok
    };
    if ok {
        let mut result = std::ptr::null_mut();
        // SAFETY: func, recv and both arguments are values of this scope; ctx
        // is the async context `watch` made for this Watch with this env.
        let s = unsafe { sys::napi_make_callback(env, ctx, recv, func, 2, args.as_ptr(), &mut result) };
        if s != sys::Status::napi_ok {
            // A throwing watcher is an uncaught exception, as for any other callback.
            let mut pending = false;
            // SAFETY: the same env and scope; `pending` is a local bool.
            unsafe { sys::napi_is_exception_pending(env, &mut pending) };
            if pending {
                let mut exc = std::ptr::null_mut();
                // SAFETY: an exception is pending on this env, so taking it and
                // reporting it as uncaught is what N-API expects of a callback.
                unsafe {
                    sys::napi_get_and_clear_last_exception(env, &mut exc);
                    sys::napi_fatal_exception(env, exc);
                }
            }
        }
    }
    // SAFETY: closes the scope opened above, the last one opened on this env.
    unsafe { sys::napi_close_handle_scope(env, scope) };
}

/// libuv's close callback: frees the Watch and the handle's memory.
///
/// # Safety
///
/// Only libuv calls this, once, for a handle that `release` passed to
/// `uv_close`: its `data` then points at the Watch that `release` leaked from
/// its Box, nobody else holds that pointer any more, and libuv is done with
/// the handle's memory, which `watch` allocated with the Watch's `layout`.
unsafe extern "C" fn on_close(handle: *mut c_void) {
    // SAFETY: per this function's contract, the pointer came from
    // Box::into_raw and is reclaimed here exactly once.
    let w = unsafe { Box::from_raw(*(handle as *mut *mut Watch)) };
    // SAFETY: the handle's memory came from alloc_zeroed with this layout and
    // libuv no longer refers to it once the close callback runs.
    unsafe { std::alloc::dealloc(handle as *mut u8, w.layout) };
}

fn uv_err(call: &str, r: c_int, fd: i32) -> napi::Error<String> {
    err(call, -r, &format!("fd {fd}"))
}

/// Watches `fd` for `events` (1 readable, 2 writable, 4 hang-up) and calls
/// `callback(status, events)` on the main thread whenever one is ready.
/// Returns a watch id for `watchUpdate` and `unwatch`. An unref'd watch does
/// not keep Node alive by itself.
#[napi(ts_args_type = "fd: number, events: number, callback: (status: number, events: number) => void, unref?: boolean")]
pub fn watch(env: Env, fd: i32, events: u32, callback: Unknown, unref: Option<bool>) -> Result<u32> {
    if events == 0 || events & !(READABLE | WRITABLE | DISCONNECT) != 0 {
        return Err(invalid(format!("events {events} (a mix of 1, 2 and 4)")));
    }
    let raw_env = env.raw();
    let mut kind = 0;
    // SAFETY: plain N-API calls on the current env with live values.
    unsafe {
        sys::napi_typeof(raw_env, callback.raw(), &mut kind);
    }
    if kind != sys::ValueType::napi_function {
        return Err(invalid("watch callback is not a function"));
    }
    let lp = env.get_uv_event_loop().map_err(|e| invalid(format!("no event loop: {}", e.reason)))?;
    // SAFETY: uv_handle_size only reads a table.
    let size = unsafe { uv_handle_size(UV_POLL) };
    let layout = std::alloc::Layout::from_size_align(size, 16).map_err(|_| invalid("poll handle size"))?;
    // SAFETY: layout has a non-zero size.
    let handle = unsafe { std::alloc::alloc_zeroed(layout) } as *mut c_void;
    if handle.is_null() {
        return Err(err("malloc", libc::ENOMEM, "(poll handle)"));
    }
    // SAFETY: handle is zeroed memory of libuv's size for a poll handle.
    let r = unsafe { uv_poll_init(lp, handle, fd) };
    if r < 0 {
        // SAFETY: never initialised, so libuv holds no pointer to it.
        unsafe { std::alloc::dealloc(handle as *mut u8, layout) };
        return Err(uv_err("uv_poll_init", r, fd));
    }
    let mut func = std::ptr::null_mut();
    let mut ctx = std::ptr::null_mut();
    let mut name = std::ptr::null_mut();
    let mut resource = std::ptr::null_mut();
    // SAFETY: N-API calls with live values; the reference keeps the callback alive.
    unsafe {
        sys::napi_create_reference(raw_env, callback.raw(), 1, &mut func);
        sys::napi_create_string_utf8(raw_env, c"x-syscalls:watch".as_ptr(), usize::MAX as isize, &mut name);
        sys::napi_create_object(raw_env, &mut resource);
        sys::napi_async_init(raw_env, resource, name, &mut ctx);
    }
    let mut w = Box::new(Watch { env: raw_env, func, ctx, handle, layout });
    // SAFETY: the handle's first field is `void *data`, ours to set.
    unsafe { *(handle as *mut *mut Watch) = &mut *w };
    // SAFETY: the handle was initialised on this loop.
    let r = unsafe { uv_poll_start(handle, events as c_int, on_poll) };
    if r < 0 {
        release(w);
        return Err(uv_err("uv_poll_start", r, fd));
    }
    if unref == Some(true) {
        // SAFETY: an active handle on this loop.
        unsafe { uv_unref(handle) };
    }
    let id = NEXT_ID.with(|n| {
        let mut n = n.borrow_mut();
        let id = *n;
        *n = n.wrapping_add(1).max(1);
        id
    });
    WATCHES.with(|m| m.borrow_mut().insert(id, w));
    Ok(id)
}

/// Stops a watch and hands its memory to libuv to close.
fn release(w: Box<Watch>) {
    // SAFETY: the handle is initialised; stopping twice is harmless. The
    // references belong to this env; the Box is reclaimed by on_close.
    unsafe {
        uv_poll_stop(w.handle);
        sys::napi_delete_reference(w.env, w.func);
        sys::napi_async_destroy(w.env, w.ctx);
        let handle = w.handle;
        let _ = Box::into_raw(w);
        uv_close(handle, on_close);
    }
}

/// Changes the events a watch waits for.
#[napi]
pub fn watch_update(id: u32, events: u32) -> Result<()> {
    if events & !(READABLE | WRITABLE | DISCONNECT) != 0 {
        return Err(invalid(format!("events {events} (a mix of 1, 2 and 4)")));
    }
    WATCHES.with(|m| {
        let m = m.borrow();
        let w = m.get(&id).ok_or_else(|| invalid(format!("watch {id} does not exist")))?;
        // SAFETY: an initialised handle; restarting changes its events.
        let r = unsafe {
            if events == 0 {
                uv_poll_stop(w.handle)
            } else {
                uv_poll_start(w.handle, events as c_int, on_poll)
            }
        };
        if r < 0 {
            return Err(uv_err("uv_poll_start", r, -1));
        }
        Ok(())
    })
}

/// Ends a watch; call it before closing the descriptor. Unknown ids are ignored.
#[napi]
pub fn unwatch(id: u32) {
    if let Some(w) = WATCHES.with(|m| m.borrow_mut().remove(&id)) {
        release(w);
    }
}

/// How many watches are live (a leak check for tests).
#[napi]
pub fn watch_count() -> u32 {
    WATCHES.with(|m| m.borrow().len() as u32)
}
