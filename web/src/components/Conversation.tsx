import {
  ActionGroup,
  Button,
  Card,
  CardBody,
  CardHeader,
  CardTitle,
  Form,
  FormGroup,
  Stack,
  TextArea,
} from '@patternfly/react-core';
import { useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import type { TicketDetail } from '../api/provider-types';
import { useFormat } from '../format';
import { FieldError, ProblemAlert } from './ui';

/**
 * A ticket's conversation: the opening message, then every reply, oldest first; below, the reply form. Customers
 * and operators see the same component; `view` decides whose side is "you".
 */
export function Conversation(props: {
  ticket: TicketDetail;
  view: 'customer' | 'operator';
  /** Whether the reader may reply (roles); without, only the conversation shows. */
  mayReply: boolean;
  onReply: (message: string) => void;
  replying: boolean;
  replyError: unknown;
  /** Extra form fields beside the message (the operator's status choice). */
  extraFields?: ReactNode;
  /** Bumped by the caller after a reply went through: the form empties. */
  sentCount: number;
}) {
  const { t } = useTranslation();
  const format = useFormat();
  const { ticket } = props;
  const [message, setMessage] = useState('');
  const [submitted, setSubmitted] = useState(false);
  const [clearedAt, setClearedAt] = useState(0);
  if (props.sentCount !== clearedAt) {
    setClearedAt(props.sentCount);
    setMessage('');
    setSubmitted(false);
  }
  const authorLabel = (authorKind: 'customer' | 'operator', author: string) =>
    authorKind === props.view ? `${t('provider.ticket.you')} (${author})` : author;
  const error = submitted && !message.trim() ? t('provider.ticket.required') : undefined;

  return (
    <Stack hasGutter>
      <Card isCompact>
        <CardHeader>
          <CardTitle component="h3">
            {authorLabel('customer', ticket.createdBy)} · {format.dateTime(ticket.createdAt)}
          </CardTitle>
        </CardHeader>
        <CardBody style={{ whiteSpace: 'pre-wrap' }}>{ticket.message}</CardBody>
      </Card>
      {ticket.replies.map((reply) => (
        <Card
          key={reply.id}
          isCompact
          data-testid={`reply-${reply.authorKind}`}
          style={
            reply.authorKind === 'operator'
              ? { borderInlineStart: '4px solid var(--pf-t--global--color--brand--default)' }
              : undefined
          }
        >
          <CardHeader>
            <CardTitle component="h3">
              {authorLabel(reply.authorKind, reply.author)} · {format.dateTime(reply.createdAt)}
            </CardTitle>
          </CardHeader>
          <CardBody style={{ whiteSpace: 'pre-wrap' }}>{reply.message}</CardBody>
        </Card>
      ))}
      {props.mayReply && (
        <Form
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            setSubmitted(true);
            if (message.trim()) props.onReply(message.trim());
          }}
        >
          {props.replyError ? <ProblemAlert error={props.replyError} /> : null}
          <FormGroup label={t('provider.ticket.reply')} isRequired fieldId="reply">
            <TextArea
              id="reply"
              isRequired
              rows={5}
              value={message}
              validated={error ? 'error' : 'default'}
              onChange={(_e, value) => setMessage(value)}
            />
            <FieldError message={error} />
          </FormGroup>
          {props.extraFields}
          <ActionGroup>
            <Button type="submit" isLoading={props.replying} isDisabled={props.replying}>
              {t('provider.ticket.send')}
            </Button>
          </ActionGroup>
        </Form>
      )}
    </Stack>
  );
}
