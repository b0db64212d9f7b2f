/**
 * The dashboard's tables: sorted over every row (not only the page shown),
 * filtered by text, paged; Lab's sortable-table look (`jp-sortable-table`,
 * its caret icons); keyboard: Tab to a header or a row, Enter sorts or opens,
 * arrow keys move between rows.
 */
import {
  caretDownIcon,
  caretUpIcon,
  FilterBox,
  HTMLSelect,
  ToolbarButtonComponent,
  caretLeftIcon,
  caretRightIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { activate, arrowKeys } from './common';

export interface IColumn<T> {
  id: string;
  label: string;
  /** Tooltip of the header. */
  title?: string;
  render: (row: T) => React.ReactNode;
  /** The value to sort by (numbers sort as numbers). */
  value: (row: T) => string | number;
}

export const PAGE_SIZES = [25, 100, 1000];

/** The page size last chosen for each table (by its label), kept while Lab runs. */
const chosenSizes = new Map<string, number>();

export function DataTable<T>(props: {
  /** What the table holds (its aria-label). */
  label: string;
  rows: T[];
  columns: IColumn<T>[];
  rowKey: (row: T) => string;
  /** Attributes of a row's <tr> (data-* for context menus, a class). */
  rowProps?: (row: T) => Record<string, string>;
  onOpen?: (row: T) => void;
  /** Shown when no row matches. */
  empty: string;
  /** Extra controls beside the filter (status, backend selects). */
  tools?: React.ReactNode;
  initialSort?: { id: string; direction: 1 | -1 };
  /** Called after React commits a page (the benchmarks read it). */
  onCommit?: (rows: number) => void;
}): JSX.Element {
  const [sort, setSort] = React.useState(
    props.initialSort || { id: '', direction: 1 as 1 | -1 }
  );
  const [query, setQuery] = React.useState('');
  const [size, setSize] = React.useState(
    chosenSizes.get(props.label) || PAGE_SIZES[1]
  );
  const [page, setPage] = React.useState(0);
  const { columns, rows } = props;
  const shown = React.useMemo(() => {
    const needle = query.toLowerCase();
    let found = needle
      ? rows.filter(row =>
          columns.some(c => String(c.value(row)).toLowerCase().includes(needle))
        )
      : rows;
    const column = columns.find(c => c.id === sort.id);
    if (column) {
      const keyed = found.map(row => ({ row, key: column.value(row) }));
      keyed.sort(
        (a, b) =>
          (typeof a.key === 'number' && typeof b.key === 'number'
            ? a.key - b.key
            : String(a.key).localeCompare(String(b.key))) * sort.direction
      );
      found = keyed.map(k => k.row);
    }
    return found;
  }, [rows, columns, sort, query]);
  const pages = Math.max(1, Math.ceil(shown.length / size));
  const at = Math.min(page, pages - 1);
  const visible = shown.slice(at * size, (at + 1) * size);
  React.useLayoutEffect(() => props.onCommit?.(visible.length));
  const sortBy = (id: string) =>
    setSort(
      sort.id === id
        ? { id, direction: sort.direction === 1 ? -1 : 1 }
        : { id, direction: 1 }
    );
  return (
    <div className="jsml-datatable">
      <div className="jsml-table-tools">
        <FilterBox
          placeholder="Filter"
          updateFilter={(_fn, q) => {
            setQuery(q || '');
            setPage(0);
          }}
          useFuzzyFilter={false}
        />
        {props.tools}
      </div>
      {visible.length === 0 ? (
        <p className="jsml-empty">{props.empty}</p>
      ) : (
        <table
          className="jp-sortable-table jsml-wide-table"
          aria-label={props.label}
          onKeyDown={arrowKeys}
        >
          <thead>
            <tr className="jp-sortable-table-tr">
              {columns.map(c => {
                const sorted = c.id === sort.id;
                const Icon =
                  sorted && sort.direction === -1 ? caretDownIcon : caretUpIcon;
                return (
                  <th
                    key={c.id}
                    data-id={c.id}
                    title={c.title}
                    className={sorted ? 'jp-sorted-header' : undefined}
                    aria-sort={
                      sorted
                        ? sort.direction === 1
                          ? 'ascending'
                          : 'descending'
                        : 'none'
                    }
                    tabIndex={0}
                    {...activate(() => sortBy(c.id))}
                  >
                    <div className="jp-sortable-table-th-wrapper">
                      <label>{c.label}</label>
                      <Icon.react tag="span" className="jp-sort-icon" />
                    </div>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {visible.map(row => (
              <tr
                key={props.rowKey(row)}
                {...(props.rowProps ? props.rowProps(row) : {})}
                className={`jp-sortable-table-tr ${props.rowProps?.(row).className || ''}`}
                data-row=""
                tabIndex={0}
                {...(props.onOpen ? activate(() => props.onOpen!(row)) : {})}
              >
                {columns.map(c => (
                  <td key={c.id}>{c.render(row)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="jsml-pager" aria-label={`${props.label} pages`}>
        <ToolbarButtonComponent
          icon={caretLeftIcon}
          tooltip="Previous page"
          enabled={at > 0}
          onClick={() => setPage(at - 1)}
        />
        <span>
          {shown.length === 0 ? 0 : at * size + 1}-
          {Math.min(shown.length, (at + 1) * size)} of {shown.length}
        </span>
        <ToolbarButtonComponent
          icon={caretRightIcon}
          tooltip="Next page"
          enabled={at < pages - 1}
          onClick={() => setPage(at + 1)}
        />
        <HTMLSelect
          aria-label="rows per page"
          value={size}
          onChange={e => {
            setSize(Number(e.currentTarget.value));
            chosenSizes.set(props.label, Number(e.currentTarget.value));
            setPage(0);
          }}
          options={PAGE_SIZES.map(n => ({ label: `${n} per page`, value: n }))}
        />
      </div>
    </div>
  );
}
