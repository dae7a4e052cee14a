import {
  Alert,
  Bullseye,
  Content,
  EmptyState,
  EmptyStateActions,
  EmptyStateBody,
  EmptyStateFooter,
  FormGroup,
  FormHelperText,
  HelperText,
  HelperTextItem,
  Label,
  PageSection,
  Spinner,
  TextInput,
  Title,
} from '@patternfly/react-core';
import tableStyles from '@patternfly/react-styles/css/components/Table/table.mjs';
import { forwardRef, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, type LinkProps } from 'react-router';
import { ApiError } from '../api/client';
import type { OrderStatus } from '../api/types';
import { localizeMessage } from '../messages';

/** Lets PatternFly components that render an anchor (NavItem, Button component=…) navigate client-side. */
export const RouterLink = forwardRef<
  HTMLAnchorElement,
  Omit<LinkProps, 'to'> & { href?: string; to?: string }
>(function RouterLink({ href, to, ...props }, ref) {
  return <Link ref={ref} to={to ?? href ?? '/'} {...props} />;
});

export function PageHeader(props: { title: ReactNode; description?: ReactNode; actions?: ReactNode }) {
  return (
    <PageSection>
      <div style={{ display: 'flex', gap: 16, alignItems: 'flex-start', justifyContent: 'space-between' }}>
        <div>
          <Title headingLevel="h1">{props.title}</Title>
          {props.description && <Content component="p">{props.description}</Content>}
        </div>
        {props.actions}
      </div>
    </PageSection>
  );
}

export function Loading() {
  const { t } = useTranslation();
  return (
    <Bullseye style={{ padding: 48 }}>
      <Spinner aria-label={t('common.loading')} />
    </Bullseye>
  );
}

/** The problem document's detail (and request id), for errors that belong to no single field. */
export function ProblemAlert({ error, title }: { error: unknown; title?: string }) {
  const { t } = useTranslation();
  if (!error) return null;
  const problem = error instanceof ApiError ? error.problem : undefined;
  // Refusals with a reason code are worded in the reader's language; others show the server's detail.
  const worded = problem?.reason ? t(`provider.problems.${problem.reason}`, { defaultValue: '' }) : '';
  return (
    <Alert variant="danger" isInline title={title ?? problem?.title ?? t('common.error')} role="alert">
      {/* The fields say it in the reader's language; the detail of a validation problem is English. */}
      <p>
        {problem?.errors?.length
          ? t('common.invalidFields')
          : worded || (problem?.detail ?? (error as Error).message)}
      </p>
      {problem?.errors && problem.errors.length > 0 && (
        <ul>
          {problem.errors.map((e) => (
            <li key={e.path + e.message}>
              <code>{e.path}</code>: {localizeMessage(e)}
            </li>
          ))}
        </ul>
      )}
      {problem?.requestId && (
        <p>
          <small>{t('common.requestId', { id: problem.requestId })}</small>
        </p>
      )}
    </Alert>
  );
}

/** The states every list and card shows the same way: the problem, loading, empty, or the content. */
export function QueryContent<T>(props: {
  query: { error: unknown; isPending: boolean; data: T | undefined };
  isEmpty: (data: T) => boolean;
  empty: ReactNode;
  children: (data: T) => ReactNode;
}) {
  const { query } = props;
  if (query.error) return <ProblemAlert error={query.error} />;
  if (query.isPending || query.data === undefined) return <Loading />;
  return <>{props.isEmpty(query.data) ? props.empty : props.children(query.data)}</>;
}

export function FieldError({ message, id }: { message?: string; id?: string }) {
  if (!message) return null;
  return (
    <FormHelperText>
      <HelperText id={id}>
        <HelperTextItem variant="error">{message}</HelperTextItem>
      </HelperText>
    </FormHelperText>
  );
}

/** A labelled, required text input with its error (or, without one, its hint) below. */
export function TextField(props: {
  id: string;
  label: string;
  type?: 'text' | 'email' | 'password';
  autoComplete: string;
  value: string;
  onChange: (value: string) => void;
  error?: string;
  hint?: ReactNode;
}) {
  return (
    <FormGroup label={props.label} isRequired fieldId={props.id}>
      <TextInput
        id={props.id}
        name={props.id}
        type={props.type ?? 'text'}
        isRequired
        autoComplete={props.autoComplete}
        value={props.value}
        validated={props.error ? 'error' : 'default'}
        onChange={(_event, value) => props.onChange(value)}
      />
      {props.error || !props.hint ? <FieldError message={props.error} /> : <Hint>{props.hint}</Hint>}
    </FormGroup>
  );
}

export function Hint({
  children,
  variant = 'default',
}: {
  children: ReactNode;
  variant?: 'default' | 'warning';
}) {
  return (
    <FormHelperText>
      <HelperText>
        <HelperTextItem variant={variant}>{children}</HelperTextItem>
      </HelperText>
    </FormHelperText>
  );
}

export function Empty(props: {
  title: string;
  body?: ReactNode;
  action?: ReactNode;
  headingLevel?: 'h2' | 'h3';
}) {
  return (
    <EmptyState titleText={props.title} headingLevel={props.headingLevel ?? 'h2'} variant="sm">
      {props.body && <EmptyStateBody>{props.body}</EmptyStateBody>}
      {props.action && (
        <EmptyStateFooter>
          <EmptyStateActions>{props.action}</EmptyStateActions>
        </EmptyStateFooter>
      )}
    </EmptyState>
  );
}

const statusColor: Record<OrderStatus, 'blue' | 'orange' | 'green' | 'red'> = {
  new: 'blue',
  processing: 'orange',
  done: 'green',
  failed: 'red',
};

export function OrderStatusLabel({ status }: { status: OrderStatus }) {
  const { t } = useTranslation();
  return (
    <Label color={statusColor[status] ?? 'grey'} isCompact>
      {t(`orderStatus.${status}.label`)}
    </Label>
  );
}

/** A PatternFly-styled table for plain lists (the project has no @patternfly/react-table). */
export function SimpleTable(props: {
  label: string;
  columns: ReactNode[];
  rows: { key: string; cells: ReactNode[] }[];
}) {
  return (
    <table className={`${tableStyles.table} ${tableStyles.modifiers.compact}`} aria-label={props.label}>
      <thead className={tableStyles.tableThead}>
        <tr className={tableStyles.tableTr}>
          {props.columns.map((column, index) => (
            <th key={index} className={tableStyles.tableTh} scope="col">
              {column}
            </th>
          ))}
        </tr>
      </thead>
      <tbody className={tableStyles.tableTbody}>
        {props.rows.map((row) => (
          <tr key={row.key} className={tableStyles.tableTr}>
            {row.cells.map((cell, index) => (
              <td key={index} className={tableStyles.tableTd}>
                {cell}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
