//! The one step the registries' slabs share: placing a record in a freed
//! slot, or at the end when none is free.

/// Puts `value` in the slot last freed (popped from `free`), or in a new
/// one at the end of `slots`; returns its index.
pub(crate) fn place<T>(slots: &mut Vec<T>, free: &mut Vec<u32>, value: T) -> u32 {
    match free.pop() {
        Some(i) => {
            slots[i as usize] = value;
            i
        }
        None => {
            let i = u32::try_from(slots.len()).expect("fewer than 2^32 slots");
            slots.push(value);
            i
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_slot_is_reused_before_the_slab_grows() {
        let (mut slots, mut free) = (Vec::new(), Vec::new());
        assert_eq!(place(&mut slots, &mut free, 'a'), 0);
        assert_eq!(place(&mut slots, &mut free, 'b'), 1);
        free.push(0);
        assert_eq!(place(&mut slots, &mut free, 'c'), 0);
        assert_eq!(place(&mut slots, &mut free, 'd'), 2);
        assert_eq!(slots, ['c', 'b', 'd']);
    }
}
