/** A compact list whose rows (name, status badge, one line of meta) expand in place. */
import * as React from 'react';

import { activate, arrowKeys, Status } from './common';

export function ExpandingList<T>(props: {
  /** What the list holds (its aria-label). */
  label: string;
  items: T[];
  itemKey: (item: T) => string;
  name: (item: T) => string;
  status: (item: T) => string | null;
  meta: (item: T) => React.ReactNode;
  /** Attributes of a row's <li> (data-* for tests and commands). */
  rowProps?: (item: T) => Record<string, string>;
  /** What opens under a row, or nothing to keep rows closed. */
  details?: (item: T) => React.ReactNode;
}): JSX.Element {
  const [open, setOpen] = React.useState<string | null>(null);
  return (
    <ul className="jsml-list" aria-label={props.label} onKeyDown={arrowKeys}>
      {props.items.map(item => {
        const key = props.itemKey(item);
        const status = props.status(item);
        const expandable = !!props.details;
        return (
          <li key={key} {...(props.rowProps ? props.rowProps(item) : {})}>
            <div
              className="jsml-row"
              data-row=""
              tabIndex={0}
              {...(expandable
                ? {
                    role: 'button',
                    'aria-expanded': open === key,
                    ...activate(() => setOpen(open === key ? null : key))
                  }
                : {})}
            >
              <span className="jsml-row-name" title={props.name(item)}>
                {props.name(item)}
              </span>
              {status ? <Status status={status} /> : <span />}
              <span className="jsml-row-meta">{props.meta(item)}</span>
            </div>
            {expandable && open === key && (
              <div className="jsml-details" data-details={key}>
                {props.details!(item)}
              </div>
            )}
          </li>
        );
      })}
    </ul>
  );
}
