//! `decide` allocates nothing once a thread's scratch buffers have grown: counted with a
//! global allocator.

#[path = "../benches/support/mod.rs"]
mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counter is a
// thread-local `Cell` that needs no allocation of its own.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded with the caller's arguments.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn decide_allocates_nothing() {
    // The counter sees this thread's allocations.
    let before = allocations();
    std::hint::black_box(Vec::<u8>::with_capacity(16));
    assert_eq!(allocations() - before, 1);

    let dir = std::env::temp_dir().join(format!("portcullis-alloc-{}", std::process::id()));
    for size in [support::S, support::M] {
        let path = support::write_policy(size, &dir.join(size.name));
        let engine = portcullis::Policy::from_path(&path)
            .unwrap()
            .compile()
            .unwrap();
        let requests = support::requests();
        // Warm up: the scratch buffers and the matchers' caches grow on first use.
        for (_, r) in &requests {
            for _ in 0..3 {
                std::hint::black_box(engine.decide(r));
            }
        }
        for (name, r) in &requests {
            let before = allocations();
            for _ in 0..100 {
                std::hint::black_box(engine.decide(r));
            }
            assert_eq!(allocations() - before, 0, "{} {name} allocated", size.name);
        }
    }
    std::fs::remove_dir_all(dir).ok();
}
